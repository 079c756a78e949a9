import { defineCommand, parseArgv } from "../argv.js";
import { close, globalArgs, open, parseDurationArg, select, selection, selectionArgs, warn } from "../context.js";
import { usageError } from "../errors.js";

const MIN_INTERVAL_SEC = 0.2;

/**
 * ansible-jobs serve: the read-only dashboard. Only its options live here; the server, the API
 * and the page (src/serve/) are a bundle of their own, embedded as a string and compiled when
 * this command runs (scripts/build.mjs), so that the other commands' cold start does not pay for
 * them. They get the CLI's store and selection functions from here (src/serve/cli-parts.ts).
 */
export const serve = defineCommand({
  meta: { name: "serve", description: "Serve a read-only web dashboard of the store: jobs table, per-host timeline, job pages, live updates" },
  args: {
    listen: {
      type: "string",
      valueHint: "host:port",
      description: "Address to listen on (default: 127.0.0.1:8765; port 0 picks a free one). A non-loopback address needs --token",
    },
    token: {
      type: "string",
      valueHint: "token",
      description: "Require this token (Authorization: Bearer, or open /?token=... once; also $ANSIBLE_JOBS_TOKEN)",
    },
    "tls-cert": { type: "string", valueHint: "file", description: "Serve HTTPS with this PEM certificate (with --tls-key)" },
    "tls-key": { type: "string", valueHint: "file", description: "The PEM private key of --tls-cert" },
    "allow-host": {
      type: "string",
      valueHint: "name[,name...]",
      description: "Host names the browser may use besides loopback names and IP addresses (DNS-rebinding protection)",
    },
    interval: { type: "string", valueHint: "seconds", description: "Seconds between store checks for live updates, or a duration (default: 2)" },
    ...globalArgs,
  },
  async run({ args }) {
    const intervalSec = parseDurationArg(args.interval ?? "2", "--interval", "serve")!;
    if (intervalSec < MIN_INTERVAL_SEC) throw usageError(`--interval must be at least ${MIN_INTERVAL_SEC}s`, "serve");
    const { serveOptions, runServer } = await import("../../serve/index.js");
    const opts = serveOptions({
      listen: args.listen,
      token: args.token ?? (process.env.ANSIBLE_JOBS_TOKEN || undefined),
      tlsCert: args["tls-cert"],
      tlsKey: args["tls-key"],
      allowHosts: args["allow-host"],
      intervalSec,
      store: args.store,
    });
    return runServer(opts, { open, close, select, selection, selectionArgs, parseArgv, warn });
  },
});
