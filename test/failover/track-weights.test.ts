// keepalived 2.2.7's tracking arithmetic (vrrp_track.c initialise_*_tracking_priorities,
// process_script_update_priority, vrrp_set_effective_priority; vrrp.c vrrp_complete_instance and the
// sync group loop): each object's effect, the clamped sum, the demotion on top, and which objects an
// instance ends up tracking. Configurations go through the real keepalived.conf parser.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseKeepalivedText } from '../../src/config/keepalived/index.js';
import { instanceTracking, trackEffect, trackVerdict, type TrackSpec, type TrackState } from '../../src/failover/track-weights.js';

const iface = (weight: number, reverse = false): TrackSpec => ({ kind: 'track_interface', name: 'wan0', weight, reverse });
const script = (weight: number, reverse = false): TrackSpec => ({ kind: 'track_script', name: 'chk', weight, reverse });

describe('trackEffect', () => {
  it('an unweighted object is FAULT while down, and with reverse while up; unknown holds nothing', () => {
    assert.deepEqual(trackEffect(iface(0), 'down'), { fault: true });
    assert.deepEqual(trackEffect(iface(0), 'up'), { fault: false, delta: 0 });
    assert.deepEqual(trackEffect(iface(0, true), 'up'), { fault: true });
    assert.deepEqual(trackEffect(iface(0, true), 'down'), { fault: false, delta: 0 });
    assert.deepEqual(trackEffect(script(0), 'unknown'), { fault: false, delta: 0 });
  });

  it('a positive weight adds while up, a negative one subtracts while down; reverse flips the sign', () => {
    const cases: [TrackSpec, TrackState, number][] = [
      [iface(10), 'up', 10],
      [iface(10), 'down', 0],
      [iface(-20), 'up', 0],
      [iface(-20), 'down', -20],
      [iface(10, true), 'up', -10],
      [iface(10, true), 'down', 0],
      [iface(-20, true), 'down', 20],
      [iface(-20, true), 'up', 0],
      [script(5), 'unknown', 0],
      [script(-5), 'unknown', 0],
    ];
    for (const [spec, state, delta] of cases) assert.deepEqual(trackEffect(spec, state), { fault: false, delta }, `${spec.weight}${spec.reverse ? ' reverse' : ''} ${state}`);
  });

  it('matches keepalived\'s incremental updates: a change of state moves the sum by |weight| × multiplier', () => {
    for (const w of [-253, -7, 3, 253]) {
      for (const reverse of [false, true]) {
        const m = reverse ? -1 : 1;
        const spec = script(w, reverse);
        const d = (s: TrackState): number => {
          const e = trackEffect(spec, s);
          return e.fault ? NaN : e.delta;
        };
        assert.equal(d('up') - d('down'), Math.abs(w) * m); // process_script_update_priority, script_ok
      }
    }
  });
});

describe('trackVerdict', () => {
  it('sums the weights onto the configured priority and says why', () => {
    const v = trackVerdict(100, [
      { spec: iface(-20), state: 'down' },
      { spec: script(5), state: 'up' },
    ]);
    assert.equal(v.priority, 85);
    assert.equal(v.fault, false);
    assert.equal(v.why, 'track_interface wan0 down (-20), track_script chk ok (+5)');
  });

  it('clamps to 1..254 and leaves the owner at 255', () => {
    assert.equal(trackVerdict(100, [{ spec: iface(-200), state: 'down' }]).priority, 1);
    assert.equal(trackVerdict(200, [{ spec: iface(100), state: 'up' }]).priority, 254);
    assert.equal(trackVerdict(255, [{ spec: iface(-50), state: 'down' }]).priority, 255);
  });

  it('nothing tracked changes nothing: no reason', () => {
    const v = trackVerdict(100, [{ spec: iface(0), state: 'up' }]);
    assert.deepEqual(v, { priority: 100, fault: false });
  });

  it('FAULT comes with its reason and does not stop the weights', () => {
    const v = trackVerdict(100, [
      { spec: iface(0), state: 'down' },
      { spec: script(-30), state: 'down' },
    ]);
    assert.equal(v.fault, true);
    assert.equal(v.priority, 70);
    assert.match(v.why ?? '', /^FAULT: track_interface wan0 down \(FAULT\); track_script chk failed \(-30\)$/);
  });

  it('the demotion wins: priority 1 while demoted, the weighted priority once lifted; the owner is never demoted', () => {
    const tracked = [{ spec: iface(-20), state: 'down' as const }];
    const d = trackVerdict(100, tracked, 'bulk sync not finished');
    assert.equal(d.priority, 1);
    assert.equal(d.why, 'demoted: bulk sync not finished (tracking alone would give 80: track_interface wan0 down (-20))');
    assert.equal(trackVerdict(100, [], 'gap').why, 'demoted: gap');
    assert.equal(trackVerdict(100, tracked).priority, 80);
    assert.equal(trackVerdict(255, tracked, 'gap').priority, 255);
  });
});

function parse(text: string): ReturnType<typeof parseKeepalivedText>['config'] {
  return parseKeepalivedText(text, '/virtual/keepalived.conf').config;
}

const SCRIPTS = `
vrrp_script chk_w {
  script "/bin/true"
  weight -30
}
vrrp_script chk_f {
  script "/bin/true"
}
`;

function inst(body: string, priority = 100): string {
  return `vrrp_instance VI_1 {
  interface lan0
  virtual_router_id 51
  priority ${priority}
  virtual_ipaddress {
    10.9.0.100/24
  }
${body}
}
`;
}

function tracked(text: string, group = false): TrackSpec[] {
  const c = parse(text);
  const i = c.instances.find((x) => x.name === 'VI_1')!;
  const g = group ? c.syncGroups.find((x) => x.instances.includes(i.name)) : undefined;
  const owner = c.instances.some((x) => x.priority === 255 && g?.instances.includes(x.name) === true);
  return instanceTracking(i, g, c.scripts, owner);
}

describe('instanceTracking (what keepalived 2.2.7 makes an instance track)', () => {
  it('tracks its own interface unweighted, unless dont_track_primary; an entry naming it is ignored', () => {
    assert.deepEqual(tracked(SCRIPTS + inst('')), [{ kind: 'track_interface', name: 'lan0', weight: 0, reverse: false }]);
    assert.deepEqual(tracked(SCRIPTS + inst('  dont_track_primary')), []);
    assert.deepEqual(tracked(SCRIPTS + inst('  track_interface {\n    lan0 weight -10\n  }')), [{ kind: 'track_interface', name: 'lan0', weight: 0, reverse: false }]);
  });

  it('keeps instance weights and the script\'s own weight and reverse unless the entry overrides them', () => {
    const t = tracked(SCRIPTS + inst('  dont_track_primary\n  track_interface {\n    wan0 weight -20 reverse\n    dmz0\n  }\n  track_script {\n    chk_w\n    chk_f weight 10\n  }'));
    assert.deepEqual(t, [
      { kind: 'track_interface', name: 'wan0', weight: -20, reverse: true },
      { kind: 'track_interface', name: 'dmz0', weight: 0, reverse: false },
      { kind: 'track_script', name: 'chk_w', weight: -30, reverse: false },
      { kind: 'track_script', name: 'chk_f', weight: 10, reverse: false },
    ]);
  });

  it('an owner drops weighted interfaces and scripts and keeps unweighted ones', () => {
    const t = tracked(SCRIPTS + inst('  track_interface {\n    wan0 weight -20\n    dmz0\n  }\n  track_script {\n    chk_w\n    chk_f\n  }', 255));
    assert.deepEqual(
      t.map((x) => `${x.name}:${x.weight}`),
      ['dmz0:0', 'lan0:0', 'chk_f:0'],
    );
  });

  const group = (extra: string): string => `vrrp_sync_group G {
  group {
    VI_1
    VI_2
  }
${extra}
}
vrrp_instance VI_2 {
  interface wan0
  virtual_router_id 52
  priority 100
  virtual_ipaddress {
    10.9.1.100/24
  }
}
`;

  it('in a sync group member weights go: interfaces become FAULT-tracked, weighted scripts are dropped', () => {
    // keepstate's parser refuses such a file (keepalived only logs and ignores the weights), so the
    // member's weighted entries are put in after parsing.
    const c = parse(SCRIPTS + group('') + inst('  track_interface {\n    dmz0\n  }\n  track_script {\n    chk_f\n  }'));
    const i = c.instances.find((x) => x.name === 'VI_1')!;
    const weighted = { ...i, trackInterfaces: [{ ...i.trackInterfaces[0]!, weight: -20 }], trackScripts: [{ ...i.trackScripts[0]!, name: 'chk_w' }, ...i.trackScripts] };
    const t = instanceTracking(weighted, c.syncGroups[0], c.scripts, false);
    assert.deepEqual(
      t.map((x) => `${x.name}:${x.weight}`),
      ['dmz0:0', 'lan0:0', 'chk_f:0'],
    );
  });

  it('sync_group_tracking_weight keeps them; the group\'s own weighted entries apply to every member', () => {
    const kept = tracked(SCRIPTS + group('  sync_group_tracking_weight') + inst('  track_script {\n    chk_w\n  }'), true);
    assert.deepEqual(
      kept.map((x) => `${x.name}:${x.weight}`),
      ['lan0:0', 'chk_w:-30'],
    );
    const g = tracked(SCRIPTS + group('  track_interface {\n    up0 weight -50\n    lan0 weight -5\n  }\n  track_script {\n    chk_w weight 20\n  }') + inst(''), true);
    // lan0 stays unweighted (own interface: "unless the vrrp setting is unweighted").
    assert.deepEqual(
      g.map((x) => `${x.name}:${x.weight}`),
      ['lan0:0', 'up0:-50', 'chk_w:20'],
    );
  });
});
