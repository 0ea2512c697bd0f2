/** KEEPSTATE_VERSION is package.json's version (a unit test keeps the two equal; reading the file would cost start-up time). */
export const KEEPSTATE_VERSION = '0.1.0';
