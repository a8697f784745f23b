// The console is built once (`make console`) into dist/, which the gateway serves from its own origin.
import { fileURLToPath, URL } from "node:url";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [vue()],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    // The strict CSP forbids inline script: no inlined module-preload polyfill, assets always as files.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      output: {
        manualChunks(id: string) {
          if (id.includes("node_modules/echarts") || id.includes("node_modules/zrender")) return "echarts";
          if (id.includes("node_modules/element-plus") || id.includes("node_modules/@element-plus")) return "element-plus";
          // Vue and the API client are on every page; the rest (QR, camera, SSE readers) loads with its page.
          if (/node_modules\/(@vue|vue|vue-router|openapi-fetch)\//.test(id)) return "vendor";
          return undefined;
        },
      },
    },
  },
});
