import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { formatConfigError } from '../../src/config/error.js';
import {
  CONNTRACKD_DEFAULTS,
  parseConntrackdConfig,
  unsupportedFeatures,
  type TcpChannel,
  type UdpChannel,
} from '../../src/config/conntrackd/index.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../../test/fixtures/config/conntrackd/${name}`, import.meta.url), 'utf8');

const UDP_LINK = 'UDP { IPv4_Destination_Address 10.0.0.2 Port 3780 Interface eth1 }';

const warnings = (text: string): string[] => parseConntrackdConfig(text, 'w.conf').warnings.map(formatConfigError);
const unsupported = (text: string): string[] => unsupportedFeatures(parseConntrackdConfig(text, 'u.conf').config).map(formatConfigError);

describe('conntrackd.conf schema: values and conntrackd 1.4.7 defaults', () => {
  it('fills in every default for an empty file (no mode: conntrackd then only serves its socket)', () => {
    const { config, warnings: w } = parseConntrackdConfig('', 'empty.conf');
    assert.equal(config.mode, 'none');
    assert.equal(config.sync, undefined);
    assert.equal(config.stats, undefined);
    assert.equal(config.helper, undefined);
    assert.deepEqual(config.general, {
      hashSize: 65536,
      hashLimit: 262144,
      logFile: undefined,
      syslogFacility: undefined,
      lockFile: '/var/lock/conntrackd.lock',
      unixPath: undefined,
      netlinkBufferSize: undefined,
      netlinkBufferSizeMaxGrowth: undefined,
      netlinkOverrunResyncSec: 30,
      netlinkEventsReliable: false,
      eventIterationLimit: 100,
      pollSecs: undefined,
      scheduler: { policy: 'RR', priority: 99 },
      systemd: true,
      filter: undefined,
      at: {},
    });
    assert.deepEqual(w.map(formatConfigError), [
      'empty.conf:1:1: no Sync, Stats or Helper section: conntrackd 1.4.7 then only serves its control socket',
    ]);
  });

  it('fills in the Sync defaults (FTFW when no Mode block, with conntrackd\'s warning)', () => {
    const { config, warnings: w } = parseConntrackdConfig(`Sync {\n ${UDP_LINK}\n}\n`, 's.conf');
    const { channels, loc, at, ...settings } = config.sync!;
    assert.deepEqual(settings, {
      protocol: 'ftfw',
      resendQueueSize: 131072,
      ackWindowSize: 300,
      refreshTimeSec: 60,
      cacheTimeoutSec: 180,
      commitTimeoutSec: undefined,
      purgeTimeoutSec: 60,
      disableExternalCache: false,
      disableInternalCache: false,
      startupResync: false,
      tcpWindowTracking: false,
      expectationSync: { enabled: false },
      errorQueueLength: 128,
      defaultChannel: 0,
    });
    assert.deepEqual([loc.line, loc.col, at], [1, 1, {}]);
    assert.deepEqual(channels.map((c) => [c.kind, c.checksum, c.sndSocketBuffer, (c as UdpChannel).localAddress]), [['udp', true, undefined, undefined]]);
    assert.deepEqual(w.map(formatConfigError), ['s.conf:1:1: no Mode block: FTFW is used (conntrackd warns "No synchronization mode specified" too)']);
    assert.equal(CONNTRACKD_DEFAULTS.resendQueueSize, 131072);
  });

  it('reads a configuration of everything supported today (fixture ftfw-udp-ipv6.conf)', () => {
    const { config, warnings: w } = parseConntrackdConfig(fixture('ftfw-udp-ipv6.conf'), 'ftfw-udp-ipv6.conf');
    const g = config.general;
    assert.deepEqual(
      [g.hashSize, g.hashLimit, g.logFile, g.syslogFacility, g.lockFile, g.unixPath],
      [16384, 131072, '/var/log/keepstate/conntrackd.log', 'local3', '/run/keepstate-test/conntrackd.lock', '/run/keepstate-test/conntrackd.ctl'],
    );
    assert.deepEqual([g.netlinkBufferSize, g.netlinkBufferSizeMaxGrowth, g.netlinkOverrunResyncSec, g.netlinkEventsReliable], [2097152, 8388608, undefined, true]);
    assert.deepEqual(g.scheduler, { policy: 'FIFO', priority: 50 });
    const s = config.sync!;
    assert.deepEqual([s.protocol, s.resendQueueSize, s.ackWindowSize, s.commitTimeoutSec, s.purgeTimeoutSec], ['ftfw', 65536, 20, 180, 15]);
    const [a, b] = s.channels as [UdpChannel, UdpChannel];
    assert.deepEqual(
      { kind: a.kind, family: a.family, localAddress: a.localAddress, peerAddress: a.peerAddress, port: a.port, interface: a.interface },
      { kind: 'udp', family: 'ipv6', localAddress: 'fd00:100::1', peerAddress: 'fd00:100::2', port: 3780, interface: 'eth1' },
    );
    assert.deepEqual([a.sndSocketBuffer, a.rcvSocketBuffer, a.checksum, a.isDefault], [1249280, 1249280, false, false]);
    assert.deepEqual([b.peerAddress, b.port, b.interface, b.checksum, b.isDefault], ['fd00:101::2', 3781, 'eth2', true, true]); // canonical text
    assert.equal(s.defaultChannel, 1);
    assert.deepEqual([a.at.peerAddress?.line, a.at.peerAddress?.col, a.loc.line, a.loc.col], [12, 3, 10, 2]);
    assert.deepEqual(w.map(formatConfigError), ['ftfw-udp-ipv6.conf:40:2: Nice: deprecated and ignored (as conntrackd does): use nice(1) or renice(1)']);
    assert.deepEqual(unsupportedFeatures(config), []);
  });

  it('reads a configuration of features not built yet (fixture notrack-tcp-everything.conf) and lists them', () => {
    const { config } = parseConntrackdConfig(fixture('notrack-tcp-everything.conf'), 'n.conf');
    const f = config.general.filter!;
    assert.equal(f.from, 'kernelspace');
    assert.deepEqual([f.protocol?.policy, f.protocol?.protocols], ['ignore', [1, 17, 58]]);
    assert.deepEqual([f.address?.policy, f.address?.ipv4.map((x) => `${x.address}/${x.prefixLength}`), f.address?.ipv6.map((x) => `${x.address}/${x.prefixLength}`)], [
      'accept',
      ['10.1.0.0/16'],
      ['fd00::/8'],
    ]);
    assert.deepEqual([f.state?.policy, f.state?.tcpStates], ['accept', ['ESTABLISHED', 'CLOSED', 'SYN_SENT']]);
    const s = config.sync!;
    assert.deepEqual([s.protocol, s.disableInternalCache, s.disableExternalCache, s.startupResync, s.tcpWindowTracking, s.errorQueueLength], [
      'notrack',
      true,
      true,
      true,
      true,
      256,
    ]);
    assert.deepEqual(s.expectationSync, { enabled: true, helpers: ['ftp', 'sip', 'h323'] });
    const t = s.channels[0] as TcpChannel;
    assert.deepEqual([t.kind, t.localAddress, t.peerAddress, t.port, t.interface], ['tcp', '192.168.100.1', '192.168.100.2', 3780, 'veth0']);
    assert.deepEqual([config.general.pollSecs, config.general.eventIterationLimit, config.general.systemd], [15, 200, true]);
    const h = config.helper!;
    assert.equal(h.setup, true);
    assert.deepEqual(
      h.types.map((x) => [x.name, x.l3, x.l4, x.queueNum, x.queueLen, x.policies.map((p) => [p.name, p.expectMax, p.expectTimeoutSec])]),
      [['ftp', 'inet', 'tcp', 5, 1024, [['ftp', 1, 300]]]],
    );
    assert.deepEqual(unsupportedFeatures(config).map(formatConfigError), ['n.conf:35:1: not supported yet: Helper']);
  });

  it('reads on/off forms, canonical addresses, masked networks and the old names', () => {
    const { config } = parseConntrackdConfig(
      `General { LogFile on Syslog on NetlinkOverrunResync 45 Filter { Address Accept { IPv4_address 192.168.1.77/24 IPv6_address 2001:DB8:0:0:0:0:0:1/64 } } }
       Stats { LogFile on Syslog daemon }`,
      'o.conf',
    );
    assert.deepEqual([config.general.logFile, config.general.syslogFacility, config.general.netlinkOverrunResyncSec], ['/var/log/conntrackd.log', 'daemon', 45]);
    assert.deepEqual(config.general.filter?.address?.ipv4.map((a) => `${a.address}/${a.prefixLength}`), ['192.168.1.0/24']);
    assert.deepEqual(config.general.filter?.address?.ipv6.map((a) => `${a.address}/${a.prefixLength}`), ['2001:db8::/64']);
    assert.deepEqual([config.stats?.logFile, config.stats?.syslogFacility], ['/var/log/conntrackd-stats.log', 'daemon']);
    const old = parseConntrackdConfig(`General { SocketBufferSize 1024 SocketBufferSizeMaxGrown 4096 NetlinkOverrunResync on LogFile off }\nSync { Mode NACK { } ${UDP_LINK} }`, 'old.conf');
    assert.deepEqual([old.config.general.netlinkBufferSize, old.config.general.netlinkBufferSizeMaxGrowth, old.config.general.netlinkOverrunResyncSec], [1024, 4096, 30]);
    assert.equal(old.config.sync?.protocol, 'ftfw');
    assert.deepEqual(old.warnings.map(formatConfigError), [
      'old.conf:1:11: SocketBufferSize: old name of NetlinkBufferSize',
      'old.conf:1:33: SocketBufferSizeMaxGrown: old name of NetlinkBufferSizeMaxGrowth',
      'old.conf:2:13: Mode NACK: old name of FTFW (conntrackd warns too)',
    ]);
    const alarm = parseConntrackdConfig(`Sync { Mode PERSISTENT { RefreshTime 5 } ${UDP_LINK} } General { NetlinkOverrunResync off }`, 'p.conf').config;
    assert.deepEqual([alarm.sync?.protocol, alarm.sync?.refreshTimeSec, alarm.general.netlinkOverrunResyncSec], ['alarm', 5, undefined]);
    assert.equal(alarm.general.at.netlinkOverrunResyncSec?.line, 1);
  });

  it('warns about settings that do nothing or are given twice', () => {
    assert.deepEqual(
      warnings(`General { NetlinkBufferSize 4096 HashSize 5 HashSize 6 }\nSync { Mode FTFW { } RefreshTime 10 ${UDP_LINK} Options { ExpectationSync { } } }`),
      [
        'w.conf:1:11: NetlinkBufferSize is only applied when NetlinkBufferSizeMaxGrowth is set and at least as large; the system default is kept',
        'w.conf:1:45: HashSize is also set at 1:34; this later value is the one used',
        'w.conf:2:22: RefreshTime only applies to Mode ALARM; it has no effect with FTFW',
        'w.conf:2:114: ExpectationSync { } with no helper name replicates no expectation; write off instead',
      ],
    );
  });

  it('returns a deeply frozen configuration', () => {
    const { config } = parseConntrackdConfig(fixture('ftfw-udp-ipv6.conf'), 'f.conf');
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.general.scheduler) && Object.isFrozen(config.sync!.channels[0]));
    assert.throws(() => {
      (config.general as { hashSize: number }).hashSize = 1;
    }, TypeError);
  });
});

describe('unsupportedFeatures: one row per feature not built yet', () => {
  it('lists nothing for what restates a default or is built (ExpectationSync, TCPWindowTracking), and each feature not built yet where it is written', () => {
    assert.deepEqual(
      unsupported(`Sync { Mode FTFW { DisableExternalCache off StartupResync off } Options { ExpectationSync off TCPWindowTracking off } ${UDP_LINK} }\nGeneral { Systemd off }`),
      [],
    );
    assert.deepEqual(unsupported(`Sync { Mode FTFW { StartupResync on } Options { ExpectationSync on TCPWindowTracking on } ${UDP_LINK} }`), []);
    assert.deepEqual(unsupported('Stats { }\nHelper { Setup off }'), ['u.conf:2:1: not supported yet: Helper']);
    assert.deepEqual(unsupported('General { }'), []);
  });
});
