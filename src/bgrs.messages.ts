import { BGRS_NO_VALUES, BGRS_STATUS_NAMES, BGRS_YES_VALUES } from './bgrs.constants.js';

/**
 * Every text the module shows its clients: error messages of its answers, and the details rows it writes. They are
 * part of the wire contract (clients match them, the README quotes them), so they live here, in one place.
 */

/** Longest part of a client's own value quoted back in an error. */
const QUOTED_MAX = 64;

export const BGRS_MESSAGES = {
  // Accepting a request
  invalidBgrs: (value: string) =>
    `Invalid bgrs value ${JSON.stringify(value.length > QUOTED_MAX ? `${value.slice(0, QUOTED_MAX)}…` : value)}: ` +
    `use one of ${BGRS_YES_VALUES.join(', ')} to run in the background, ` +
    `or ${BGRS_NO_VALUES.filter(Boolean).join(', ')} (or empty) not to.`,
  notCapable: 'This route cannot run in the background: send the request without bgrs.',
  ownerRequired: 'Background requests need a signed-in user here, with an id of at most 255 bytes.',
  shuttingDown: 'The server is shutting down; try again shortly.',
  queueFull: 'Too many background requests are waiting; try again shortly.',
  notRecorded: 'The background request could not be recorded; try again shortly.',
  queueUnavailable: 'The background queue cannot be reached; try again shortly.',
  multipartNotQueued:
    'This route cannot take uploads through the background queue: send the request without bgrs ' +
    '(its developers can keep it out of the queue with @BackgroundCapable({ queue: false })).',
  bodyTooLargeToQueue: (maxBytes: number) =>
    `The request body is too large to run through the background queue (at most ${maxBytes} bytes).`,

  // Looking requests up
  invalidRid: 'Invalid request id: expected 32 lowercase hexadecimal characters.',
  unknownRid: (rid: string) => `No background request ${rid}.`,
  invalidStatus: `Invalid status: use one of ${Object.values(BGRS_STATUS_NAMES).join(', ')}.`,
  invalidInteger: (name: string, min: number, max: number) =>
    `Invalid ${name}: use a whole number from ${min} to ${max}.`,
  resultNotAvailable: (status: string, progress: string) =>
    `The result is not available: the request is ${status} (${progress}%).`,
  alreadyEnded: (status: string, progress: string) =>
    `The request has already ended: the request is ${status} (${progress}%).`,
  resultGone: (rid: string) => `The result of ${rid} is no longer stored.`,
  lookupsUnavailable: 'Background requests cannot be looked up right now; try again shortly.',

  // Details rows written when a request ends without a result of its handler's
  cancelledByClient: 'cancelled by the client',
  interruptedByShutdown: 'interrupted by shutdown',
  instanceStopped: 'failed: the instance running it stopped (its lease expired)',
  notStored: (reason: string) => `No result could be stored: ${reason}`,
  runStarted: (instance: string, attempt: number) => `started on ${instance} (attempt ${attempt})`,
  runAgain: (instance: string, attempt: number) =>
    `run again on ${instance} (attempt ${attempt}): the worker running it before stopped`,
  notRunAgain: 'failed: the worker running it stopped, and the route must not run twice (rerun: false)',
  handedBack: 'handed back to the queue: its worker is shutting down',
  jobFailed: (reason: string) => `failed: the queue gave its job up (${reason})`,
  jobLost: 'its job was lost by the queue (Redis restarted without it?): queued again',
  jobEndedWithoutOutcome: 'failed: its job ended in the queue without an outcome',
} as const;
