/** The cron watchdog (once a minute): re-push every broker's configuration, which re-arms its alarm. */
import { control } from "../clients/stubs.ts";

export async function watchdog(env: Env): Promise<void> {
  await control(env).reconcile();
}
