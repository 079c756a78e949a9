import { main } from "./main.js";

// Only the exit code is set here: output is flushed before node exits on its own.
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
