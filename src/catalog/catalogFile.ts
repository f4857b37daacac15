import { z } from 'zod';
import { BUILD_TEXT, CATALOG_FORMAT, CATALOG_FORMAT_VERSION, DATE_TEXT, KB_TEXT } from './catalogFormat.js';

/*
 * The build catalog as the tool ships and stores it: the facts of dbatools' build reference
 * (github.com/dataplat/dbatools, bin/dbatools-buildref-index.json, MIT licence), one row per
 * build in the reference's order, with where they came from and the reference's licence notice.
 * Rows keep the reference's own facts only; what a build is called and where it stands is worked
 * out when the catalog is read (see catalog.ts), so a newer reference needs no new code.
 */

const dateText = z.string().regex(DATE_TEXT, 'expected a date such as 2026-07-16');

export const catalogRowSchema = z.strictObject({
  /** The build as the reference writes it; matched on its first three parts. */
  build: z.string().regex(BUILD_TEXT, 'expected a build such as 15.0.4385'),
  /** The release this build opens (the reference's `Name`, e.g. "2019"); only on a release's first row. */
  name: z.string().min(1).optional(),
  /** Service-pack level this row starts (`RTM`, `SP3`, `RC`); builds after it belong to it. */
  sp: z.string().min(1).optional(),
  /** Cumulative update this row is (`CU28`); builds after it, up to the next, belong to it. */
  cu: z.string().regex(/^CU\d+$/, 'expected CU followed by a number, e.g. CU28').optional(),
  /** Knowledge-base articles that describe this build, digits only. */
  kbs: z.array(z.string().regex(KB_TEXT, 'expected the digits of a KB number')).optional(),
  /** End of support of the level this row starts. */
  supported_until: dateText.optional(),
  release_date: dateText.optional(),
  /** An update Microsoft pulled. */
  retired: z.literal(true).optional(),
});
export type CatalogRow = z.infer<typeof catalogRowSchema>;

export const catalogFileSchema = z.strictObject({
  format: z.literal(CATALOG_FORMAT),
  format_version: z.literal(CATALOG_FORMAT_VERSION),
  /** When the reference was last updated: the catalog in use is the one with the latest date. */
  last_updated: dateText,
  source: z.strictObject({
    name: z.string(),
    url: z.string(),
    copyright: z.string(),
    license: z.string(),
    /** The file the catalog was made from, and when (an update by hand on an air-gapped machine). */
    imported_from: z.string().optional(),
    imported_at: z.string().optional(),
  }),
  /** The licence notice of the reference, carried with its facts. */
  license_notice: z.string().min(1),
  builds: z.array(catalogRowSchema).min(1, 'expected at least one build'),
});
export type CatalogFile = z.infer<typeof catalogFileSchema>;
