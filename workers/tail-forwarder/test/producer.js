// A producer Worker for the end-to-end test: logs at every level, errors, and throws.
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/throw") {
      console.log("about to fail", { order: 42 });
      throw new TypeError("cannot read properties of undefined (reading 'price')");
    }
    if (url.pathname === "/big-throw") {
      // 600 lines of 250 bytes: under the runtime's limit on logs kept per invocation.
      const count = Number(url.searchParams.get("count") || "600");
      for (let i = 0; i < count; i++) console.info(`line ${i} ` + "x".repeat(240));
      throw new RangeError("ran out of lines");
    }
    if (url.pathname === "/big") {
      const count = Number(url.searchParams.get("count") || "50");
      for (let i = 0; i < count; i++) console.info(`line ${i} ` + "x".repeat(900));
      return new Response("big");
    }
    console.debug("debug detail");
    console.log("handled", request.method, url.pathname, { user: "u1", items: [1, 2] });
    console.info("info line");
    console.warn("slow upstream", 1234);
    console.error("payment failed", { code: "CARD_DECLINED" });
    return new Response("ok");
  },
  async scheduled(controller) {
    console.log("cron ran", controller.cron);
  },
};
