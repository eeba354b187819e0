import assert from 'node:assert/strict';
import { detailsOf, jsonOf, lookup, resultOf, sendRaw, type HttpClient } from './http.js';
import type { Instance } from './instances.js';

/** The details row of a request cancelled by `DELETE /bgrs/<rid>`. */
export const CANCELLED_DETAIL = 'cancelled by the client';

export interface CancelAnswer {
  status: number;
  body: any;
  contentType: string;
}

/** `DELETE /bgrs/<rid>` with the body parsed as JSON. */
export async function cancel(http: HttpClient, rid: string): Promise<CancelAnswer> {
  const res = await sendRaw(http, { method: 'delete', path: `/bgrs/${rid}` });
  return { status: res.status, body: jsonOf(res), contentType: String(res.headers['content-type'] ?? '') };
}

/** A `200` answer to DELETE: the one record, cancelled. */
export function assertCancelledAnswer(answer: CancelAnswer, rid: string): void {
  assert.equal(answer.status, 200, `DELETE /bgrs/${rid}: ${JSON.stringify(answer.body)}`);
  assert.ok(Array.isArray(answer.body) && answer.body.length === 1, JSON.stringify(answer.body));
  assert.equal(answer.body[0].rid, rid);
  assert.equal(answer.body[0].status_name, 'cancelled');
  assert.equal(answer.body[0].status_id, '6');
}

/**
 * The record stays cancelled, seen from each of `observers`, its result answers 409 naming `cancelled`, and its
 * details have one "cancelled by the client" row and none of another end.
 */
export async function assertStaysCancelled(observers: Instance[], rid: string): Promise<void> {
  for (const instance of observers) {
    const record = await lookup(instance.http, rid);
    assert.equal(record.status_name, 'cancelled', `${rid} on ${instance.name}: ${JSON.stringify(record)}`);
    assert.notEqual(record.finished_dt, null);
    assert.equal(record.result, null);
    const result = await resultOf(instance.http, rid);
    assert.equal(result.status, 409);
    assert.equal(jsonOf(result).status_name, 'cancelled');
  }
  const details = (await detailsOf(observers[0].http, rid)).map((detail) => detail.details);
  assert.equal(details.filter((text) => text === CANCELLED_DETAIL).length, 1, JSON.stringify(details));
  assert.ok(!details.some((text) => /lease expired|interrupted/.test(text)), JSON.stringify(details));
}
