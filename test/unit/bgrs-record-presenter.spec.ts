import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BgrsRecordPresenter } from '../../src/lookup/bgrs-record.presenter.js';
import { resolveBgrsOptions } from '../../src/options/bgrs-options.js';
import type { BgrsDetail } from '../../src/persistence/entities/bgrs-detail.entity.js';
import { BgrsRequest } from '../../src/persistence/entities/bgrs-request.entity.js';
import { BgrsStatus } from '../../src/persistence/entities/bgrs-status.entity.js';

function presenter(timezone?: string): BgrsRecordPresenter {
  return new BgrsRecordPresenter(resolveBgrsOptions({ timezone }));
}

function request(values: Partial<BgrsRequest>): BgrsRequest {
  return Object.assign(new BgrsRequest(), {
    id: 267,
    rid: '4ff7cc2d88b1de88e83cce3f1caa1509',
    userId: 1,
    name: '/v2.5/users/me?bgrs=yes',
    createdDt: new Date('2017-12-26T18:21:52Z'),
    statusId: 4,
    progress: '100',
    finishedDt: new Date('2017-12-26T18:21:53Z'),
    httpStatus: 200,
    contentType: 'application/json; charset=utf-8',
    result: 'media/keep1m.bgrs.4ff7cc2d88b1de88e83cce3f1caa1509.result.json',
    ...values,
  });
}

describe('BgrsRecordPresenter', () => {
  it("renders a record as the original API did: every value a string, the status's name joined", () => {
    const state = Object.assign(new BgrsStatus(), { id: 4, name: 'finished' });
    assert.deepEqual(presenter().request(request({ state })), {
      id: '267',
      rid: '4ff7cc2d88b1de88e83cce3f1caa1509',
      user_id: '1',
      name: '/v2.5/users/me?bgrs=yes',
      created_dt: '2017-12-26 18:21:52',
      status_id: '4',
      status_name: 'finished',
      progress: '100.00',
      finished_dt: '2017-12-26 18:21:53',
      status: '200',
      content_type: 'application/json; charset=utf-8',
      result: 'media/keep1m.bgrs.4ff7cc2d88b1de88e83cce3f1caa1509.result.json',
    });
  });

  it('renders NULL columns as null, and names a status without its joined row', () => {
    const view = presenter().request(
      request({ userId: null, statusId: 3, progress: '12.5', finishedDt: null, httpStatus: null, result: null }),
    );
    assert.equal(view.user_id, null);
    assert.equal(view.status_name, 'processing');
    assert.equal(view.progress, '12.50');
    assert.equal(view.finished_dt, null);
    assert.equal(view.status, null);
    assert.equal(view.result, null);
  });

  const zones: Array<[string | undefined, string]> = [
    [undefined, '2017-12-26 18:21:52'],
    ['Z', '2017-12-26 18:21:52'],
    ['+02:00', '2017-12-26 20:21:52'],
    ['-05:30', '2017-12-26 12:51:52'],
    ['+0530', '2017-12-26 23:51:52'],
    ['+06:00', '2017-12-27 00:21:52'],
  ];
  for (const [timezone, expected] of zones) {
    it(`dates as YYYY-MM-DD HH:mm:ss in timezone ${timezone ?? '(default)'}`, () => {
      assert.equal(presenter(timezone).request(request({})).created_dt, expected);
      const detail = { id: '5802', rid: 'r', dt: new Date('2017-12-26T18:21:52Z'), details: 'done' } as BgrsDetail;
      assert.deepEqual(presenter(timezone).detail(detail), { id: '5802', rid: 'r', dt: expected, details: 'done' });
    });
  }
});
