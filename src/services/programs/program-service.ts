import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { configEntities, inConfigTransaction, storeChanges } from '../../db/config-writes';
import { Program, type ProgramSettings } from '../../entities/program';
import { ErrorCode, PatronError, notFound } from '../../errors';
import { lockProgram, programHasOrders } from './program-store';
import type { Clock, RequestContext } from '../shared';
import { isUuid } from '../shared';

export { DEFAULT_SETTINGS, checkSettings, type ProgramSettings } from '../../entities/program';

export interface ProgramRecord extends ProgramSettings {
  id: string;
  createdAt: Date;
}

/** What an admin may change: left out keeps a setting, null clears the lifetime. */
export type ProgramSettingsChange = Partial<{ [K in keyof ProgramSettings]: ProgramSettings[K] | null }>;

export type CreateProgramInput = ProgramSettingsChange & { name: string };

/**
 * Work that joins the transaction creating a program, e.g. its first admin key (the access
 * module's): what it returns comes back with the new program.
 */
export type ProgramCreatedHook<T> = (em: EntityManager, program: Program) => Promise<T>;

export function toProgram(program: Program): ProgramRecord {
  return { id: program.id, ...program.settings(), createdAt: program.createdAt };
}

/**
 * Programs and their settings: MikroORM entities read and written through an EntityManager
 * forked for each use case (see db/config-writes: each write says what it stores). The
 * settings' invariants live in the {@link Program} entity.
 */
export class ProgramService<Created = unknown> {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly onCreated: ProgramCreatedHook<Created>,
  ) {}

  /** The caller's program. */
  async getProgram(ctx: RequestContext): Promise<ProgramRecord> {
    const program = await configEntities(this.orm).findOne(Program, { id: ctx.programId });
    if (!program) throw notFound('Program', { programId: ctx.programId });
    return toProgram(program);
  }

  /** Programs by id, in the order asked (for DataLoader). */
  async getPrograms(ids: readonly string[]): Promise<ProgramRecord[]> {
    const found = await configEntities(this.orm).find(Program, { id: { $in: ids.filter(isUuid) } });
    const byId = new Map(found.map((p) => [p.id, toProgram(p)]));
    return ids.map((id) => {
      const program = byId.get(id);
      if (!program) throw notFound('Program', { programId: id });
      return program;
    });
  }

  /** Operator only: a new program, and whatever the creation hook adds (its first admin key). */
  async createProgram(ctx: RequestContext, input: CreateProgramInput): Promise<{ program: ProgramRecord; created: Created }> {
    const program = new Program(input as Partial<ProgramSettings> & { name: string }, this.clock.now());
    const created = await inConfigTransaction(this.orm, async (em) => {
      await em.insert(program);
      return this.onCreated(em, program);
    });
    ctx.logger.info({ programId: program.id }, 'program created');
    return { program: toProgram(program), created };
  }

  async updateProgramSettings(ctx: RequestContext, input: ProgramSettingsChange): Promise<ProgramRecord> {
    const em = configEntities(this.orm);
    const program = await em.findOne(Program, { id: ctx.programId });
    if (!program) throw notFound('Program', { programId: ctx.programId });
    const currency = program.currency;
    // Only the settings this change set: a concurrent change of others keeps its values.
    const applied = program.change(input);
    if (applied.length === 0) return toProgram(program);
    if (program.currency === currency) {
      await storeChanges(em, program, applied);
      return toProgram(program);
    }
    // Orders, spend and tier thresholds count money in the program's currency; the program's row
    // is locked first, against orders being placed.
    await inConfigTransaction(this.orm, async (tx) => {
      await lockProgram(tx, program.id);
      if (await programHasOrders(tx, program.id)) {
        throw new PatronError(ErrorCode.INVALID_STATE, `The currency cannot change once the program has orders: their money is in ${currency}`, {
          field: 'currency',
          currency,
        });
      }
      await storeChanges(tx, program, applied);
    });
    return toProgram(program);
  }

  /**
   * The installation's first program, created with the default settings when there is none
   * (for the access module's bootstrap, inside its transaction).
   */
  async firstProgram(em: EntityManager): Promise<Program> {
    const [existing] = await em.find(Program, {}, { orderBy: { createdAt: 'asc' }, limit: 1 });
    if (existing) return existing;
    const program = new Program({ name: 'Default program' }, this.clock.now());
    await em.insert(program);
    return program;
  }
}
