/** This release of AutoDBAudit: package.json's `version`, which a test keeps equal to this one. */
export const VERSION = '0.1.0';
