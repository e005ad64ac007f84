/**
 * A provider that injects infrastructure failures into a real one: the command runs, then the response is
 * "lost", as when a worker or a network dies mid-step. Used to test the workflow's recovery rules.
 */
import { ServerError } from '../../src/providers/errors';
import type { ExecOptions, Provider } from '../../src/providers/provider';

export function withLostExecResponses(inner: Provider, shouldFail: (command: string, call: number) => boolean): Provider & { calls: string[] } {
  const calls: string[] = [];
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'calls') return calls;
      if (prop === 'exec') {
        return async (instanceId: string, command: string, options?: ExecOptions) => {
          calls.push(command);
          const result = await target.exec(instanceId, command, options);
          if (shouldFail(command, calls.filter((c) => c === command).length)) throw new ServerError('injected: connection lost after exec');
          return result;
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Provider & { calls: string[] };
}
