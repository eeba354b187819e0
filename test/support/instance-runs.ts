/** What the handlers of an instance of the fixture app did (its `/work/state`), and waits for it. */
import type { Instance } from './instances.js';
import { eventually } from './wait.js';

/** Waits until `instance`'s handler of `name` has seen its signal abort, and returns the abort reason. */
export function waitForAbort(instance: Instance, name: string, deadlineMs?: number): Promise<string> {
  return eventually(
    `${instance.name}'s handler ${name} to see its signal abort`,
    async () => (await instance.state()).aborted.find((seen) => seen.name === name)?.reason,
    { deadlineMs },
  );
}

/** Waits until `instance`'s runners no longer hold `rid` (they are done with it, final write included). */
export function waitUntilLetGo(instance: Instance, rid: string, deadlineMs?: number): Promise<true> {
  return eventually(
    `${instance.name} to let ${rid} go`,
    async () => ((await instance.state()).held.includes(rid) ? undefined : true),
    { deadlineMs },
  );
}

/** Waits until attempt `attempt` of the handler `name` has started on `instance`. */
export function waitForAttempt(instance: Instance, name: string, attempt: number, deadlineMs?: number): Promise<true> {
  return eventually(
    `attempt ${attempt} of ${name} to start on ${instance.name}`,
    async () =>
      (await instance.state()).started.some((seen) => seen.name === name && seen.attempt === attempt)
        ? true
        : undefined,
    { deadlineMs },
  );
}

/** Waits until the handler `name` has started on one of `instances`, and returns that one. */
export function whereStarted(instances: Instance[], name: string, deadlineMs?: number): Promise<Instance> {
  return eventually(
    `handler ${name} to start on one of ${instances.map((instance) => instance.name).join(', ')}`,
    async () => {
      for (const instance of instances) {
        if ((await instance.state()).started.some((seen) => seen.name === name)) {
          return instance;
        }
      }
      return undefined;
    },
    { deadlineMs },
  );
}

/** The attempts of the handler `name` that have started on `instance`, in order. */
export async function startedAttempts(instance: Instance, name: string): Promise<number[]> {
  return (await instance.state()).started.filter((seen) => seen.name === name).map((seen) => seen.attempt);
}
