import type { FaultRegistry } from '../faults/service.js';
import type { Journal } from '../journal/service.js';
import type { ControlledClock } from '../../lib/clock.js';
import type { IdSource } from '../../lib/ids.js';
import type { StateDocument } from '../state/schemas.js';
import type { StateService } from '../state/service.js';
import type { ResetBody, ResetResult } from './schemas.js';

export interface AdminServiceDeps {
  state: StateService;
  faults: FaultRegistry;
  journal: Journal;
  clock: ControlledClock;
  ids: IdSource;
  /**
   * The tenancy the server started with (bootstrap file, demo tenancy, anything already in the store), as
   * a state document without shares. A reset comes back to it, so the printed demo credentials and the
   * bootstrap's tokens keep working.
   */
  baseline: StateDocument;
  /** Applies the bootstrap file (re-read, so edits between tests take effect) after a whole reset. */
  reapplyBootstrap?: () => Promise<void>;
}

/** The emulator controls that span capabilities: today, reset. */
export class AdminService {
  constructor(private readonly deps: AdminServiceDeps) {}

  async reset(body: ResetBody | undefined): Promise<ResetResult> {
    const organizationId = body?.organization_id;
    if (organizationId !== undefined) {
      const { shares } = await this.deps.state.clearOrganization(organizationId);
      return { scope: 'organization', organization_id: organizationId, shares_removed: shares };
    }
    const { state, faults, journal, clock, ids } = this.deps;
    // One transaction replaces everything with the starting tenancy; the in-process controls follow.
    await state.importState(this.deps.baseline);
    await this.deps.reapplyBootstrap?.();
    faults.clear();
    journal.clear();
    clock.reset();
    ids.restart();
    return { scope: 'store' };
  }
}
