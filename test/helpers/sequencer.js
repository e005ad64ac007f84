/**
 * Test order: the secrets suite first, since it installs the SDK runtime with a capturing logger, and the SDK's
 * native logging is set up once per process; then the rest, quick suites before slow ones as jest prefers.
 */
const Sequencer = require('@jest/test-sequencer').default;

class SnapbuildSequencer extends Sequencer {
  sort(tests) {
    const sorted = super.sort(tests);
    const first = sorted.filter((t) => t.path.endsWith('secrets.test.ts'));
    return [...first, ...sorted.filter((t) => !first.includes(t))];
  }
}

module.exports = SnapbuildSequencer;
