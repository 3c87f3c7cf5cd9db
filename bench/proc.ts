/** What the runtime process uses, read from Linux /proc (the benchmark machine is Linux): memory and CPU. */
import { readdirSync, readFileSync } from "node:fs";

/** The pid of this process's child whose command name is `name` (Miniflare spawns workerd as one). */
export function childProcessNamed(name: string): number | null {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Format: pid (comm) state ppid ...; comm may hold spaces, so split after the last ')'.
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (comm === name && ppid === process.pid) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return null;
}

/** Resident and peak resident memory (VmRSS, VmHWM) of a process, in MiB. */
export function residentMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

/** User plus system CPU seconds of a process so far (clock ticks of 1/100 s). */
export function cpuSeconds(pid: number | null): number {
  if (!pid) return NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
