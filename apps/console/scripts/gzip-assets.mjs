// Writes `<file>.gz` beside each built asset (JavaScript, CSS, SVG), at the highest level, so
// the gateway can send them compressed without compressing on every request.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { constants, gzipSync } from "node:zlib";

const assets = path.resolve(import.meta.dirname, "../dist/assets");
for (const name of readdirSync(assets)) {
  if (!/\.(js|css|svg)$/.test(name)) continue;
  const file = path.join(assets, name);
  const gz = gzipSync(readFileSync(file), { level: constants.Z_BEST_COMPRESSION });
  writeFileSync(`${file}.gz`, gz);
}
