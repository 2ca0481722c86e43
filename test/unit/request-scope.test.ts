import { RequestScope, type Identity } from '../../src/graphql/context';
import { createLoaders } from '../../src/graphql/loaders';
import type { Logger } from '../../src/logger';
import type { Services } from '../../src/services';

/** Apollo copies every operation's context this way (ApolloServer.js, cloneObject). */
const copyAsApolloDoes = <T extends object>(object: T): T => Object.assign(Object.create(Object.getPrototypeOf(object)), object);

function scope() {
  const children: unknown[] = [];
  const child = { info: () => undefined } as unknown as Logger;
  const logger = { child: (bindings: unknown) => (children.push(bindings), child) } as unknown as Logger;
  const identity: Identity = { kind: 'key', programId: 'p', keyId: 'k', role: 'server' as never, operator: false };
  const services = {} as Services;
  const context = new RequestScope('req-1', identity, { address: null, userAgent: null }, services, createLoaders(services, 'p'), {} as never, {} as never, logger);
  return { context, children, child };
}

describe('RequestScope', () => {
  it('makes no child logger when Apollo copies the context, and one on first use of the copy', () => {
    const { context, children, child } = scope();
    const copy = copyAsApolloDoes(context);
    expect(children).toEqual([]);
    expect(copy.logger).toBe(child);
    expect(copy.logger).toBe(child);
    expect(children).toEqual([{ requestId: 'req-1' }]);
  });

  it('makes each DataLoader on first use, once, and the copy shares them', () => {
    const { context } = scope();
    const copy = copyAsApolloDoes(context);
    const program = copy.loaders.program;
    expect(copy.loaders.program).toBe(program);
    expect(context.loaders.program).toBe(program);
    expect(copy.loaders.accountByMember).not.toBe(copy.loaders.ruleVersion);
  });
});
