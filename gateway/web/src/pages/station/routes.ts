// The 报到码 poster a station (or any organisation that takes mobile members in) prints and puts up.
import { Postcard } from "@element-plus/icons-vue";
import type { PageRoutes } from "@/lib/nav";

export default [
  { path: "station/poster", name: "station-poster", component: () => import("./PosterPage.vue"),
    meta: { title: "报到码", roles: ["station_staff", "county_admin", "guidance_officer"],
            nav: { group: "流动管理", order: 260, icon: Postcard } } },
] satisfies PageRoutes;
