// Starts the real vigild for a test, on 127.0.0.1 with a free port, in a directory of its own
// (data and log kept there); restart() keeps the port and the data, as a deployment would. It
// runs with --auth=dev unless given other security flags (TLS files, another --auth).
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, existsSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const VIGILD = resolve(process.env.VIGILD ??
  join(__dirname, "..", "..", "..", "..", "build", "services", "vigild", "vigild"));
/** The vigil CLI (`vigil certs`, `vigil token`): VIGIL, or the one next to VIGILD's build. */
export const VIGIL = resolve(process.env.VIGIL ??
  join(VIGILD, "..", "..", "..", "clients", "cli", "vigil"));

/** Runs the vigil CLI and returns its stdout; throws with its stderr when it fails. */
export function vigilCli(...args: string[]): string {
  return execFileSync(VIGIL, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export function tempDir(name: string): string {
  const root = process.env.VIGIL_TEST_TMPDIR ?? tmpdir();
  mkdirSync(root, { recursive: true });
  return mkdtempSync(join(root, `vigil-node-client.${name}.`));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class VigildProcess {
  port = 0;
  private process?: ChildProcess;
  private exited?: Promise<number | null>;
  readonly dataDir: string;

  constructor(readonly dir: string, readonly security: string[] = ["--auth=dev"]) {
    mkdirSync(dir, { recursive: true });
    this.dataDir = join(dir, "data");
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts vigild (on the port it had, if it ran before) and waits for its port file. */
  async start(timeoutMs = 60000): Promise<string> {
    if (!existsSync(VIGILD)) throw new Error(`no vigild at ${VIGILD} (set VIGILD)`);
    const portFile = join(this.dir, "port");
    if (existsSync(portFile)) unlinkSync(portFile);
    const log = openSync(join(this.dir, "vigild.log"), "a");
    const child = spawn(VIGILD, [...this.security, "--data-dir", this.dataDir,
      "--listen", `127.0.0.1:${this.port}`, "--port-file", portFile],
    { stdio: ["ignore", log, log] });
    closeSync(log);
    this.process = child;
    this.exited = new Promise((res) => child.once("exit", (code, signal) => res(signal ? 128 : code)));
    let exitCode: number | null | undefined;
    void this.exited.then((c) => { exitCode = c; });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = existsSync(portFile) ? readFileSync(portFile, "utf8").trim() : "";
      if (text) {
        this.port = Number(text);
        return this.address;
      }
      if (exitCode !== undefined) throw new Error(`vigild exited with ${exitCode}; see ${this.dir}/vigild.log`);
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`vigild did not start in ${timeoutMs} ms; see ${this.dir}/vigild.log`);
      }
      await sleep(20);
    }
  }

  /** Stops vigild with SIGTERM and resolves to its exit code. */
  async stop(): Promise<number | null> {
    if (!this.process) return null;
    this.process.kill("SIGTERM");
    const code = await this.exited;
    this.process = undefined;
    return code ?? null;
  }

  async restart(): Promise<string> {
    const code = await this.stop();
    if (code !== 0) throw new Error(`vigild exited with ${code} on SIGTERM; see ${this.dir}/vigild.log`);
    return this.start();
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
