import { Inject, Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager, type Repository } from 'typeorm';
import { BGRS_DATA_SOURCE, BGRS_ENDED_STATUSES, BGRS_RUNNING_STATUSES } from '../bgrs.constants.js';
import { BgrsInstance } from './entities/bgrs-instance.entity.js';
import { BgrsLease } from './entities/bgrs-lease.entity.js';
import { BgrsRequest } from './entities/bgrs-request.entity.js';

const LEASES_RELEASED_AT_ONCE = 1000;
/** Leases on ended requests held by one instance or by any dead one. */
const ENDED_LEASES_SQL =
  'SELECT l.rid FROM bgrs_leases l INNER JOIN bgrs_requests r ON r.rid = l.rid ' +
  'LEFT JOIN bgrs_instances i ON i.id = l.instance_id ' +
  `WHERE r.status_id IN (${BGRS_ENDED_STATUSES.join(', ')}) ` +
  `AND (l.instance_id = ? OR i.id IS NULL OR i.expires_at < ?) LIMIT ${LEASES_RELEASED_AT_ONCE}`;

/**
 * The bookkeeping of who runs what: the live instances (renewed by their heartbeats) and the leases they hold on the
 * requests they run. A request's lease is written with the request itself, at acceptance (`BgrsRequestRepository`).
 */
@Injectable()
export class BgrsLeaseRepository {
  private readonly instances: Repository<BgrsInstance>;
  private readonly leases: Repository<BgrsLease>;

  constructor(@Inject(BGRS_DATA_SOURCE) private readonly dataSource: DataSource) {
    this.instances = dataSource.getRepository(BgrsInstance);
    this.leases = dataSource.getRepository(BgrsLease);
  }

  async heartbeat(instanceId: string, expiresAt: number): Promise<void> {
    await this.instances.upsert({ id: instanceId, expiresAt: String(expiresAt) }, ['id']);
  }

  async removeInstance(instanceId: string): Promise<void> {
    await this.instances.delete({ id: instanceId });
  }

  /** Requests leased by instances other than `instanceId` that are gone or whose heartbeat is older than `now`. */
  async findAbandoned(instanceId: string, now: number): Promise<string[]> {
    const rows: Array<{ rid: string }> = await this.leases
      .createQueryBuilder('lease')
      .leftJoin(BgrsInstance, 'instance', 'instance.id = lease.instance_id')
      .innerJoin(BgrsRequest, 'request', 'request.rid = lease.rid')
      .select('lease.rid', 'rid')
      .where('lease.instance_id <> :instanceId', { instanceId })
      .andWhere('(instance.id IS NULL OR instance.expires_at < :now)', { now })
      // Leases on ended requests are released in bulk (`releaseEndedLeases`), not failed one by one.
      .andWhere('request.status_id IN (:...running)', { running: BGRS_RUNNING_STATUSES })
      .getRawMany();
    return rows.map((row) => row.rid);
  }

  /** Forgets instances that are dead and hold no lease any more. */
  async removeDeadInstances(now: number): Promise<void> {
    await this.instances
      .createQueryBuilder()
      .delete()
      .where('expires_at < :now', { now })
      .andWhere('id NOT IN (SELECT DISTINCT instance_id FROM bgrs_leases)')
      .execute();
  }

  /**
   * Deletes the leases on requests that have ended, held by `instanceId` or by instances dead at `now`: found by a
   * plain read, deleted by key under READ COMMITTED where the driver has it. Under REPEATABLE READ a DELETE of a
   * list of keys locks the gaps between them too, where acceptances insert their leases, and the two deadlock.
   */
  async releaseEndedLeases(instanceId: string, now: number): Promise<void> {
    const readCommitted = this.dataSource.driver.supportedIsolationLevels.includes('READ COMMITTED');
    for (;;) {
      const rows: Array<{ rid: string }> = await this.dataSource.query(ENDED_LEASES_SQL, [instanceId, now]);
      const remove = (manager: EntityManager) => manager.delete(BgrsLease, { rid: In(rows.map((row) => row.rid)) });
      if (rows.length > 0) {
        await (readCommitted ? this.dataSource.transaction('READ COMMITTED', remove) : remove(this.dataSource.manager));
      }
      if (rows.length < LEASES_RELEASED_AT_ONCE) {
        return;
      }
    }
  }
}
