/** Podman managed hosts for tests, through scripts/hosts.sh (created and removed by each suite). */
import * as path from "node:path";
import { REPO, run, tempDir } from "./ansible.js";
import { freePort } from "./net.js";

const HOSTS_SH = path.join(REPO, "scripts", "hosts.sh");

export interface Hosts {
  prefix: string;
  names: string[];
  inventory: string;
  down: () => Promise<void>;
}

async function sh(args: string[]): Promise<string> {
  const r = await run(HOSTS_SH, args);
  if (r.code !== 0) throw new Error(`hosts.sh ${args.join(" ")} failed (${r.code}): ${r.out}`);
  return r.stdout;
}

/** N podman containers PREFIX-1..N in group "targets". */
export async function podmanHosts(prefix: string, n: number): Promise<Hosts> {
  const inventory = path.join(tempDir(prefix), "inventory.ini");
  await sh(["up", prefix, String(n), inventory]);
  return {
    prefix,
    inventory,
    names: Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`),
    down: async () => {
      await sh(["down", prefix]);
    },
  };
}


/** One SSH-connected host: sshd on a 127.0.0.1 port in a --network host container, group "ssh_targets". */
export async function sshHost(name: string): Promise<Hosts & { port: number }> {
  const port = await freePort();
  const inventory = path.join(tempDir(name), "inventory.ini");
  await sh(["ssh-up", name, String(port), inventory]);
  return {
    prefix: name,
    port,
    inventory,
    names: [name],
    down: async () => {
      await sh(["down", name]);
    },
  };
}

export const hostCtl = (verb: "kill" | "start" | "ssh-stop" | "ssh-start", name: string) => sh([verb, name]);

/** Runs a Python snippet inside a container (the image has python3, not procps). */
export async function inHost(name: string, python: string): Promise<string> {
  const r = await run("podman", ["exec", name, "python3", "-c", python]);
  if (r.code !== 0) throw new Error(`podman exec ${name} failed: ${r.out}`);
  return r.stdout.trim();
}

const PROCS = `
import os
def procs():
    for p in os.listdir('/proc'):
        if p.isdigit():
            try:
                argv = open('/proc/%s/cmdline' % p, 'rb').read().split(b'\\0')
                sid = int(open('/proc/%s/stat' % p).read().rsplit(')', 1)[1].split()[3])
            except (OSError, IndexError, ValueError):
                continue
            yield int(p), sid, [a.decode(errors='replace') for a in argv if a]
`;

/** Kills (SIGKILL) the whole session of every process whose argv has an element containing `word`. */
export function killSessionOf(name: string, word: string): Promise<string> {
  return inHost(name, `${PROCS}
sids = {sid for pid, sid, argv in procs() if pid != os.getpid() and any(${JSON.stringify(word)} in a for a in argv)}
killed = [pid for pid, sid, argv in procs() if sid in sids and sid > 1 and sid != os.getsid(0)]
for pid in killed: os.kill(pid, 9)
print(len(killed))`);
}

/** Kills only the async_wrapper processes of the job whose jid (random part) is given. */
export function killWrappers(name: string, jidToken: string): Promise<string> {
  return inHost(name, `${PROCS}
killed = [pid for pid, sid, argv in procs() if any(a.endswith('async_wrapper.py') for a in argv) and ${JSON.stringify(jidToken)} in argv]
for pid in killed: os.kill(pid, 9)
print(len(killed))`);
}

/** Number of live processes whose command line (argv joined by spaces) is exactly `cmdline`. */
export async function countProcs(name: string, cmdline: string): Promise<number> {
  return Number(await inHost(name, `${PROCS}
print(len([1 for pid, sid, argv in procs() if ' '.join(argv) == ${JSON.stringify(cmdline)}]))`));
}
