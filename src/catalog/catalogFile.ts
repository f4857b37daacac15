import { z } from 'zod';

/*
 * The build catalog as the tool ships and stores it: the facts of dbatools' build reference
 * (github.com/dataplat/dbatools, bin/dbatools-buildref-index.json, MIT licence), one row per
 * build in the reference's order, with where they came from and the reference's licence notice.
 * Rows keep the reference's own facts only; what a build is called and where it stands is worked
 * out when the catalog is read (see catalog.ts), so a newer reference needs no new code.
 */

export const CATALOG_FORMAT = 'autodbaudit-build-catalog';
export const CATALOG_FORMAT_VERSION = 1;

/** `2026-07-16` or `2026-07-16T00:00:00` (the reference writes both). */
export const DATE_TEXT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
/** Three or four dot-separated numbers: `15.0.4385`, `15.0.1900.25`. */
export const BUILD_TEXT = /^\d{1,5}\.\d{1,5}\.\d{1,6}(\.\d{1,6})?$/;
export const KB_TEXT = /^\d{5,8}$/;

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

/** Where the facts come from: credited in every catalog file the tool writes. */
export const DBATOOLS_SOURCE = {
  name: 'dbatools SQL Server build reference',
  url: 'https://github.com/dataplat/dbatools/blob/development/bin/dbatools-buildref-index.json',
  copyright: 'Copyright (c) 2018 Chrissy LeMaire',
  license: 'MIT',
} as const;

export const DBATOOLS_LICENSE_NOTICE = `The build facts in this catalog come from the dbatools build reference
(https://github.com/dataplat/dbatools, bin/dbatools-buildref-index.json), used under its MIT licence:

MIT License

Copyright (c) 2018 Chrissy LeMaire

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`;
