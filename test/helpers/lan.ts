// Where the tests run: inside the private test LAN made by scripts/test-lan.sh, never on a real network.
export interface TestLan {
  stereo: string;
  phone: string;
  iface: string;
}

export function testLan(): TestLan {
  if (process.env.HIFID_TEST_LAN !== '1') {
    throw new Error('integration tests start the daemon and must run inside scripts/test-lan.sh (npm test does this)');
  }
  return {
    stereo: process.env.HIFID_TEST_LAN_STEREO ?? '10.77.0.1',
    phone: process.env.HIFID_TEST_LAN_PHONE ?? '10.77.0.2',
    iface: process.env.HIFID_TEST_LAN_IFACE ?? 'hifi0',
  };
}
