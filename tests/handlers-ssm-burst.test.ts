// SSM reads under a morning burst: 500 containers start at once and each reads its parameter once,
// while SSM serves about 40 GetParameter calls a second (default throughput) and throttles the rest
// with ThrottlingException. Simulated on a virtual clock (no real waiting): an SSM stand-in behind
// aws-sdk-client-mock with a 40-a-second token bucket, one SSMClient per container (its own cache),
// the retry's sleeps advancing the clock. Prints the simulated burst time.
import { GetParameterCommand, SSMClient, ThrottlingException } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { clearParameterCache, DEFAULT_RETRY, readTransactionIdKey, type RetryOptions } from "../functions/aws/ssm.js";

const NAME = "/coffeetl/acme-prod/transaction-secret";
const SECRET = "s".repeat(64);
const ssm = mockClient(SSMClient);

/** Discrete-event clock: `sleep` registers a wake-up; `run` jumps from one wake-up to the next. */
class VirtualClock {
  now = 0;
  private timers: { at: number; seq: number; wake: () => void }[] = [];
  private seq = 0;
  readonly sleep = (ms: number) => new Promise<void>((wake) => this.timers.push({ at: this.now + ms, seq: this.seq++, wake }));
  /** Runs until every promise in `work` settles (the work only waits on this clock). */
  async run<T>(work: Promise<T>): Promise<T> {
    let done = false;
    const result = work.finally(() => (done = true));
    for (;;) {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      if (done || this.timers.length === 0) break;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift()!;
      this.now = next.at;
      next.wake();
    }
    return result;
  }
}

/** SSM's throughput as a token bucket: `rate` calls a second, bursts of up to `rate`. */
function throttledSsm(clock: VirtualClock, rate: number) {
  let tokens = rate;
  let last = 0;
  const stats = { served: 0, throttled: 0, servedAt: [] as number[] };
  ssm.reset();
  ssm.on(GetParameterCommand).callsFake(async (input) => {
    tokens = Math.min(rate, tokens + ((clock.now - last) * rate) / 1000);
    last = clock.now;
    if (tokens < 1) {
      stats.throttled++;
      throw new ThrottlingException({ message: "Rate exceeded", Message: "Rate exceeded", $metadata: { httpStatusCode: 400 } });
    }
    tokens -= 1;
    stats.served++;
    stats.servedAt.push(clock.now);
    return { Parameter: { Name: input.Name, Value: SECRET } };
  });
  return stats;
}

/** `containers` cold starts at t=0, each with its own client and cache. */
async function burst(containers: number, retry: Partial<RetryOptions>, clock: VirtualClock) {
  const done: number[] = [];
  const failures: string[] = [];
  await clock.run(
    Promise.all(
      Array.from({ length: containers }, () =>
        readTransactionIdKey(new SSMClient({ region: "eu-west-2", maxAttempts: 1 }), NAME, { ...retry, sleep: clock.sleep }).then(
          (value) => {
            assert.is(value, SECRET);
            done.push(clock.now);
          },
          (error: Error) => failures.push(error.message),
        ),
      ),
    ),
  );
  done.sort((a, b) => a - b);
  return { done, failures, at: (q: number) => done[Math.min(done.length - 1, Math.floor(q * done.length))] ?? NaN };
}

test("a throttled read is retried with full-jitter exponential backoff, then succeeds", async () => {
  clearParameterCache();
  const sleeps: number[] = [];
  ssm.reset();
  const throttle = new ThrottlingException({ message: "Rate exceeded", Message: "Rate exceeded", $metadata: {} });
  ssm
    .on(GetParameterCommand)
    .rejectsOnce(throttle)
    .rejectsOnce(throttle)
    .rejectsOnce(throttle)
    .resolves({ Parameter: { Value: SECRET } });
  const value = await readTransactionIdKey(new SSMClient({}), NAME, { sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 });
  assert.is(value, SECRET);
  assert.is(ssm.commandCalls(GetParameterCommand).length, 4);
  assert.equal(sleeps, [50, 100, 200], "half of 100, 200, 400 ms (random() = 0.5)");
  // The cap bounds the backoff: the 12th attempt waits at most capMs.
  assert.is(DEFAULT_RETRY.capMs, 10_000);
});

test("retries give up after maxAttempts, naming the parameter; a non-retryable error is not retried", async () => {
  clearParameterCache();
  ssm.reset();
  ssm.on(GetParameterCommand).rejects(new ThrottlingException({ message: "Rate exceeded", Message: "Rate exceeded", $metadata: {} }));
  const error = await readTransactionIdKey(new SSMClient({}), NAME, { maxAttempts: 4, sleep: async () => {} }).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.match(
    error!.message,
    /^SSM parameter "\/coffeetl\/acme-prod\/transaction-secret" could not be read after 4 attempts: ThrottlingException: Rate exceeded$/,
  );
  assert.is(ssm.commandCalls(GetParameterCommand).length, 4);

  clearParameterCache();
  ssm.reset();
  const denied = Object.assign(new Error("User is not authorized"), { name: "AccessDeniedException", $metadata: { httpStatusCode: 400 } });
  ssm.on(GetParameterCommand).rejects(denied);
  const e2 = await readTransactionIdKey(new SSMClient({}), NAME, { sleep: async () => assert.unreachable("no retry") }).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.match(e2!.message, /could not be read: AccessDeniedException/);
  assert.is(ssm.commandCalls(GetParameterCommand).length, 1);

  // A 5xx is transient.
  clearParameterCache();
  ssm.reset();
  ssm
    .on(GetParameterCommand)
    .rejectsOnce(Object.assign(new Error("oops"), { name: "InternalServerError", $metadata: { httpStatusCode: 500 } }))
    .resolves({ Parameter: { Value: SECRET } });
  assert.is(await readTransactionIdKey(new SSMClient({}), NAME, { sleep: async () => {} }), SECRET);
});

test("the stand-in really throttles: without retries most of 500 cold starts fail", async () => {
  const clock = new VirtualClock();
  const stats = throttledSsm(clock, 40);
  const r = await burst(500, { maxAttempts: 1 }, clock);
  assert.is(stats.served, 40, "one second's worth at t=0");
  assert.is(r.failures.length, 460);
  assert.match(r.failures[0]!, /ThrottlingException/);
});

test("500 cold starts at once against 40 reads/s: every container gets its secret", async () => {
  const clock = new VirtualClock();
  const stats = throttledSsm(clock, 40);
  // Seeded jitter: the same schedule every run.
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const r = await burst(500, { random }, clock);
  assert.equal(r.failures, []);
  assert.is(r.done.length, 500);
  assert.is(stats.served, 500, "one successful read per container");
  // Nobody beats the throughput: 500 reads at 40/s (40 of them at once) need at least 11.5 s.
  const last = r.done[r.done.length - 1]!;
  assert.ok(last >= 11_500, `${last} ms`);
  // ...and backoff with full jitter keeps the tail within a few times that.
  assert.ok(last <= 60_000, `last container waited ${last} ms`);
  const calls = stats.served + stats.throttled;
  console.log(
    `  simulated burst: 500 cold starts, SSM at 40 reads/s: p50 ${(r.at(0.5) / 1000).toFixed(1)} s, p90 ${(r.at(0.9) / 1000).toFixed(1)} s, ` +
      `last ${(last / 1000).toFixed(1)} s; ${calls} calls (${stats.throttled} throttled, ${(calls / 500).toFixed(1)} per container)`,
  );
});

test.run();
