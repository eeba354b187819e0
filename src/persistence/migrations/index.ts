import { CreateBgrsTables1764320000000 } from './1764320000000-create-bgrs-tables.js';
import { CreateBgrsLeases1764320000001 } from './1764320000001-create-bgrs-leases.js';
import { CreateBgrsOwners1764320000002 } from './1764320000002-create-bgrs-owners.js';
import { CreateBgrsResults1764320000003 } from './1764320000003-create-bgrs-results.js';
import { CreateBgrsJobs1764320000004 } from './1764320000004-create-bgrs-jobs.js';
import { AddBgrsInlineResults1764320000005 } from './1764320000005-add-bgrs-inline-results.js';

export {
  AddBgrsInlineResults1764320000005,
  CreateBgrsJobs1764320000004,
  CreateBgrsLeases1764320000001,
  CreateBgrsOwners1764320000002,
  CreateBgrsResults1764320000003,
  CreateBgrsTables1764320000000,
};

/** The module's migrations, in order: add them to the host's DataSource `migrations` (and its CLI config). */
export const bgrsMigrations = [
  CreateBgrsTables1764320000000,
  CreateBgrsLeases1764320000001,
  CreateBgrsOwners1764320000002,
  CreateBgrsResults1764320000003,
  CreateBgrsJobs1764320000004,
  AddBgrsInlineResults1764320000005,
];
