import { createApp } from "vue";
import ElementPlus from "element-plus";
import zhCn from "element-plus/es/locale/lang/zh-cn";
import "element-plus/dist/index.css";
import "@/styles.css";
import App from "@/App.vue";
import { router } from "@/router";
import { whenUnauthorized } from "@/api/client";
import { forget } from "@/session";

whenUnauthorized(() => {
  forget();
  const here = router.currentRoute.value;
  if (!here.meta.public) void router.replace({ name: "login", query: { next: here.fullPath, expired: "1" } });
});

createApp(App).use(ElementPlus, { locale: zhCn }).use(router).mount("#app");
