import { defineConfig } from "vitest/config";

// The browser suite: one headless Chromium, files one after another (they share the
// gateway started by `loadgen console`, see e2e/README.md).
export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.ts"],
    environment: "node",
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
