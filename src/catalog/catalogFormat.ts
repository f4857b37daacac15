/*
 * The constants of the build catalog's file format, without its schema: loading the shipped catalog
 * needs only these, and validating (zod) is loaded when a stored or offered file must be checked.
 */

export const CATALOG_FORMAT = 'autodbaudit-build-catalog';
export const CATALOG_FORMAT_VERSION = 1;

/** `2026-07-16` or `2026-07-16T00:00:00` (the reference writes both). */
export const DATE_TEXT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
/** Three or four dot-separated numbers: `15.0.4385`, `15.0.1900.25`. */
export const BUILD_TEXT = /^\d{1,5}\.\d{1,5}\.\d{1,6}(\.\d{1,6})?$/;
export const KB_TEXT = /^\d{5,8}$/;

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
