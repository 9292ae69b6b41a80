import { ManualClock } from '../../src/lib/clock.js';
import { TenancyService } from '../../src/platform/tenancy/service.js';
import { openTestStore, type TestStore } from './store.js';

/** Where a tenancy test starts: a fresh test store and the tenancy service over it on a manual clock. */
export interface TenancyFixture {
  db: TestStore;
  clock: ManualClock;
  service: TenancyService;
}

export async function openTenancy(): Promise<TenancyFixture> {
  const db = await openTestStore();
  const clock = new ManualClock();
  return { db, clock, service: new TenancyService(db.store.tenancy, clock) };
}
