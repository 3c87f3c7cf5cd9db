/**
 * An event into a JobSink, the one way both its address and a delivering broker object make Jobs:
 * shared/kubernetes/job-sink.ts against the JobSink's cluster, each Job created counted for /metrics.
 */
import { env as globalEnv } from "cloudflare:workers";
import type { CloudEvent } from "../shared/cloudevents/event.ts";
import { type JobSinkAnswer, sendToJobSink } from "../shared/kubernetes/job-sink.ts";
import type { JobSinkRun } from "../shared/resources/job-sink.ts";
import { control } from "./stubs.ts";
import { Tally } from "./tally.ts";

const created = new Tally<[string, string]>((batch) => control(globalEnv as Env).countJobs(batch), "JobSink job counts");

export async function runJobSink(env: Env, target: { namespace: string; name: string; run?: JobSinkRun }, event: CloudEvent): Promise<JobSinkAnswer> {
  const answer = await sendToJobSink(env as unknown as Record<string, unknown>, fetch, target, event);
  if (answer.ok && answer.created) created.add([target.namespace, target.name]);
  return answer;
}
