/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  modulePathIgnorePatterns: ['<rootDir>/lib/'],
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  // One Temporal dev server and the machine's two cores are shared by every suite: run them one at a time.
  maxWorkers: 1,
  testTimeout: 120_000,
  forceExit: true,
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
  testSequencer: '<rootDir>/test/helpers/sequencer.js',
};
