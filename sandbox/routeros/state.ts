/**
 * The simulated router's configuration and the API commands over it (legacy-payments §9.1): hotspot
 * users, user profiles, active sessions, hosts, cookies, scripts, identity and resource. Values are
 * stored and printed as strings, booleans as `true`/`false` like the real API prints them.
 */
import { runScript, ScriptSyntaxError, type ScriptOutcome } from './script.js';

export type Row = Record<string, string>;

export class SimTrap extends Error {
  constructor(message: string, readonly category?: string) {
    super(message);
  }
}

export class Table {
  rows: Row[] = [];
  private next: number;

  constructor(firstId = 1) {
    this.next = firstId;
  }

  insert(fields: Row): Row {
    const row: Row = { '.id': `*${(this.next++).toString(16).toUpperCase()}`, ...fields };
    this.rows.push(row);
    return row;
  }

  byId(id: string): Row | undefined {
    return this.rows.find((r) => r['.id'] === id);
  }

  /** `numbers=`/`.id=` targets: comma list of ids or names. */
  resolve(spec: string): Row[] {
    const out: Row[] = [];
    for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
      const row = this.byId(part) ?? this.rows.find((r) => r.name === part);
      if (!row) throw new SimTrap('no such item', '0');
      out.push(row);
    }
    return out;
  }

  delete(row: Row): void {
    this.rows = this.rows.filter((r) => r !== row);
  }
}

export interface SimVersion {
  major: 6 | 7;
  version: string;
  /** `!empty` for prints with no rows (RouterOS >= 7.18). */
  emptyReply: boolean;
}

export interface CommandReply {
  rows: Row[];
  done: Row;
  empty: boolean;
}

export interface ScriptRun {
  name: string;
  source: string;
  outcome: ScriptOutcome;
  error: string | null;
}

const MAC = /^[0-9A-F]{2}(:[0-9A-F]{2}){5}$/;

function bool(v: string | undefined, dflt = 'false'): string {
  if (v === undefined) return dflt;
  if (['yes', 'true'].includes(v)) return 'true';
  if (['no', 'false'].includes(v)) return 'false';
  throw new SimTrap(`value of disabled must be yes or no`, '1');
}

function mac(v: string): string {
  const m = v.trim().toUpperCase().replace(/-/g, ':');
  if (!MAC.test(m)) throw new SimTrap('invalid value for argument mac-address', '1');
  return m;
}

export class SimState {
  users = new Table();
  profiles = new Table(0);
  active = new Table();
  hosts = new Table();
  cookies = new Table();
  scripts = new Table();
  /** `/ip/hotspot/walled-garden/ip`: what a device may reach before login (3-D Secure passes land here). */
  walledGardenIp = new Table();
  /** Hotspot server profiles (`/ip/hotspot/profile`): `dns-name` is the login address devices see. */
  serverProfiles = new Table(0);
  identity = 'MikroTik';
  resource: Row;
  /** Every script the router ran, with what it executed. */
  scriptRuns: ScriptRun[] = [];
  /** Login calls that succeed without a session appearing (for the "session never appeared" path). */
  loginCreatesSession = true;

  constructor(readonly version: SimVersion) {
    this.profiles.insert({ name: 'default', 'shared-users': '1', 'idle-timeout': 'none', 'keepalive-timeout': '2m', 'status-autorefresh': '1m', 'mac-cookie-timeout': '3d', 'add-mac-cookie': 'true', 'transparent-proxy': 'false', default: 'true' });
    this.serverProfiles.insert({ name: 'default', 'hotspot-address': '10.5.50.1', 'dns-name': '', 'login-by': 'cookie,http-chap', 'html-directory': 'hotspot', default: 'true' });
    this.resource = { uptime: '1w2d3h', version: version.version, 'build-time': '2024-01-01 00:00:00', 'free-memory': '200000000', 'total-memory': '268435456', 'cpu-load': '3', 'architecture-name': 'arm64', 'board-name': 'RB5009', platform: 'MikroTik' };
  }

  addProfile(fields: Row): Row {
    return this.profiles.insert({ 'shared-users': '1', 'idle-timeout': 'none', 'keepalive-timeout': '2m', 'status-autorefresh': '1m', 'mac-cookie-timeout': '3d', 'add-mac-cookie': 'true', 'transparent-proxy': 'false', default: 'false', ...fields });
  }

  addUser(fields: Row): Row {
    return this.users.insert({ server: 'all', profile: 'default', uptime: '0s', 'bytes-in': '0', 'bytes-out': '0', 'packets-in': '0', 'packets-out': '0', dynamic: 'false', disabled: 'false', ...fields });
  }

  addHost(fields: { 'mac-address': string; address: string; 'to-address'?: string; server?: string }): Row {
    return this.hosts.insert({ server: 'hotspot1', 'to-address': fields.address, authorized: 'false', bypassed: 'false', ...fields, 'mac-address': mac(fields['mac-address']) });
  }

  addSession(fields: Row): Row {
    return this.active.insert({ server: 'hotspot1', 'login-by': 'http-chap', uptime: '0s', 'idle-time': '0s', 'bytes-in': '0', 'bytes-out': '0', 'packets-in': '0', 'packets-out': '0', radius: 'false', ...fields });
  }

  findUser(name: string): Row | undefined {
    return this.users.rows.find((r) => r.name === name);
  }

  /** Execute one command (path + `=attr=` words + queries); throws SimTrap for a `!trap`. */
  execute(path: string, attrs: Row, queries: string[]): CommandReply {
    const segments = path.split('/').filter(Boolean);
    const action = segments.pop() ?? '';
    const menu = '/' + segments.join('/');
    const table = this.tableOf(menu);
    if (action === 'print') {
      let rows: Row[];
      if (menu === '/system/identity') rows = [{ name: this.identity }];
      else if (menu === '/system/resource') rows = [{ ...this.resource }];
      else if (table) rows = table.rows.filter(compileQuery(queries));
      else throw new SimTrap('no such command prefix', '0');
      if (attrs['count-only'] !== undefined) return { rows: [], done: { ret: String(rows.length) }, empty: false };
      const props = attrs['.proplist']?.split(',').map((s) => s.trim()).filter(Boolean);
      const shaped = rows.map((r) => {
        if (!props) return { ...r };
        const o: Row = {};
        for (const p of props) if (r[p] !== undefined) o[p] = r[p];
        return o;
      });
      return { rows: shaped, done: {}, empty: shaped.length === 0 && this.version.emptyReply };
    }
    if (menu === '/system/identity' && action === 'set') {
      if (attrs.name !== undefined) this.identity = attrs.name;
      return ok();
    }
    if (menu === '/ip/hotspot/active' && action === 'login') {
      this.hotspotLogin(attrs);
      return ok();
    }
    if (menu === '/system/script' && action === 'run') {
      const target = attrs['.id'] ?? attrs.number ?? attrs.numbers;
      if (!target) throw new SimTrap('missing value for argument number', '1');
      const [script] = this.scripts.resolve(target);
      this.runScript(script);
      return ok();
    }
    if (!table) throw new SimTrap('no such command prefix', '0');
    switch (action) {
      case 'add':
        return { rows: [], done: { ret: this.add(menu, table, attrs)['.id'] }, empty: false };
      case 'set': {
        const target = attrs['.id'] ?? attrs.numbers;
        if (!target) throw new SimTrap('missing value for argument numbers', '1');
        const rows = table.resolve(target);
        const { '.id': _id, numbers: _n, ...changes } = attrs;
        for (const row of rows) this.set(menu, table, row, changes);
        return ok();
      }
      case 'remove': {
        const target = attrs['.id'] ?? attrs.numbers;
        if (!target) throw new SimTrap('missing value for argument numbers', '1');
        for (const row of table.resolve(target)) table.delete(row);
        return ok();
      }
      case 'enable':
      case 'disable': {
        const target = attrs['.id'] ?? attrs.numbers;
        for (const row of table.resolve(target ?? '')) row.disabled = action === 'disable' ? 'true' : 'false';
        return ok();
      }
      default:
        throw new SimTrap('no such command', '0');
    }
  }

  private tableOf(menu: string): Table | null {
    switch (menu) {
      case '/ip/hotspot/user':
        return this.users;
      case '/ip/hotspot/user/profile':
        return this.profiles;
      case '/ip/hotspot/active':
        return this.active;
      case '/ip/hotspot/host':
        return this.hosts;
      case '/ip/hotspot/cookie':
        return this.cookies;
      case '/system/script':
        return this.scripts;
      case '/ip/hotspot/profile':
        return this.serverProfiles;
      case '/ip/hotspot/walled-garden/ip':
        return this.walledGardenIp;
      default:
        return null;
    }
  }

  private add(menu: string, table: Table, attrs: Row): Row {
    if (menu === '/ip/hotspot/user') {
      if (!attrs.name) throw new SimTrap('failure: name must be set', '1');
      if (this.findUser(attrs.name)) throw new SimTrap('failure: already have user with this name for this server', '1');
      this.checkProfile(attrs.profile);
      const fields: Row = { ...attrs, disabled: bool(attrs.disabled) };
      if (fields['mac-address']) fields['mac-address'] = mac(fields['mac-address']);
      return this.addUser(fields);
    }
    if (menu === '/ip/hotspot/user/profile') {
      if (!attrs.name) throw new SimTrap('failure: name must be set', '1');
      if (this.profiles.rows.some((r) => r.name === attrs.name)) throw new SimTrap('failure: profile with the same name already exists', '1');
      return this.addProfile(attrs);
    }
    if (menu === '/system/script') {
      const name = attrs.name ?? `script${this.scripts.rows.length + 1}`;
      if (this.scripts.rows.some((r) => r.name === name)) throw new SimTrap('failure: script with the same name already exists', '1');
      return table.insert({ owner: 'admin', policy: 'ftp,reboot,read,write,policy,test,password,sniff,sensitive,romon', 'dont-require-permissions': 'false', 'run-count': '0', invalid: 'false', source: '', ...attrs, name });
    }
    if (menu === '/ip/hotspot/walled-garden/ip') {
      // MikroTik manual, Hotspot → Walled Garden IP list: action accept|drop|reject (default accept); dst-port
      // only with protocol tcp or udp; src/dst-address an IP or prefix. The simulator traps what RouterOS would.
      const action = attrs.action ?? 'accept';
      if (!['accept', 'drop', 'reject'].includes(action)) throw new SimTrap('input does not match any value of action', '1');
      if (attrs['dst-port'] !== undefined && attrs.protocol !== 'tcp' && attrs.protocol !== 'udp') throw new SimTrap('failure: dst-port can be set only for tcp or udp protocol', '1');
      for (const k of ['src-address', 'dst-address'] as const) {
        const v = attrs[k];
        if (v !== undefined && !/^(?:\d{1,3}\.){3}\d{1,3}(?:\/\d{1,2})?$/.test(v)) throw new SimTrap(`invalid value for argument ${k}`, '1');
      }
      if (attrs['dst-port'] !== undefined && !/^\d{1,5}(?:-\d{1,5})?$/.test(attrs['dst-port'])) throw new SimTrap('invalid value for argument dst-port', '1');
      return table.insert({ action, disabled: 'false', dynamic: 'false', 'packets': '0', ...attrs });
    }
    if (menu === '/ip/hotspot/host' && attrs['mac-address'] && attrs.address) {
      return this.addHost({ 'mac-address': attrs['mac-address'], address: attrs.address, 'to-address': attrs['to-address'] });
    }
    throw new SimTrap('failure: cannot add', '1');
  }

  private set(menu: string, _table: Table, row: Row, changes: Row): void {
    if (menu === '/ip/hotspot/user') {
      if (changes.name && changes.name !== row.name && this.findUser(changes.name)) throw new SimTrap('failure: already have user with this name for this server', '1');
      if (changes.profile !== undefined) this.checkProfile(changes.profile);
      if (changes['mac-address'] !== undefined && changes['mac-address'] !== '') changes = { ...changes, 'mac-address': mac(changes['mac-address']) };
      if (changes.disabled !== undefined) changes = { ...changes, disabled: bool(changes.disabled) };
    }
    Object.assign(row, changes);
  }

  private checkProfile(profile: string | undefined): void {
    if (profile !== undefined && !this.profiles.rows.some((r) => r.name === profile)) {
      throw new SimTrap('input does not match any value of profile', '1');
    }
  }

  /** `/ip/hotspot/active/login`: the real checks in a simplified form. */
  hotspotLogin(attrs: Row): void {
    const user = attrs.user !== undefined ? this.findUser(attrs.user) : undefined;
    if (!user || (user.password ?? '') !== (attrs.password ?? '') || user.disabled === 'true') {
      throw new SimTrap('invalid username or password', '2');
    }
    let macAddress = attrs['mac-address'] ? mac(attrs['mac-address']) : '';
    let ip = attrs.ip ?? '';
    if (!ip && macAddress) ip = this.hosts.rows.find((h) => h['mac-address'] === macAddress)?.address ?? '';
    if (!ip) throw new SimTrap('failure: ip address must be specified', '1');
    if (this.active.rows.some((s) => s.address === ip)) throw new SimTrap('already logged in', '2');
    if (user['mac-address'] && macAddress && user['mac-address'] !== macAddress) throw new SimTrap('invalid mac address', '2');
    macAddress ||= this.hosts.rows.find((h) => h.address === ip || h['to-address'] === ip)?.['mac-address'] ?? '';
    if (!this.loginCreatesSession) return;
    this.addSession({ user: user.name, address: ip, 'mac-address': macAddress, 'login-by': 'api' });
    // A user profile with add-mac-cookie leaves a MAC cookie that logs the device in again without the
    // password, even after the user is disabled unless the cookie is removed ("Hotspot customisation" /
    // user profile `add-mac-cookie`, `mac-cookie-timeout`; cookies are listed under /ip/hotspot/cookie —
    // https://help.mikrotik.com/docs/display/ROS/Hotspot+customisation and /ip hotspot cookie in the manual).
    const profile = this.profiles.rows.find((p) => p.name === (user.profile || 'default'));
    if (macAddress && profile?.['add-mac-cookie'] === 'true') {
      this.cookies.insert({ user: user.name, domain: '', 'mac-address': macAddress, 'expires-in': profile['mac-cookie-timeout'] ?? '3d', 'mac-cookie': 'true' });
    }
  }

  private runScript(script: Row): void {
    const run: ScriptRun = { name: script.name, source: script.source ?? '', outcome: { executed: [], logins: [] }, error: null };
    this.scriptRuns.push(run);
    script['run-count'] = String(Number(script['run-count'] ?? '0') + 1);
    try {
      runScript(run.source, { login: (a) => this.hotspotLogin(a) }, run.outcome);
    } catch (err) {
      run.error = err instanceof Error ? err.message : String(err);
      if (err instanceof ScriptSyntaxError) throw new SimTrap(`failure: syntax error (${run.error})`, '3');
      if (err instanceof SimTrap) throw new SimTrap(err.message, '3');
      throw err;
    }
  }
}

function ok(): CommandReply {
  return { rows: [], done: {}, empty: false };
}

/** RouterOS query words (`?name=x`, `?=name=x`, `?name`, `?-name`, `?<n=1`, `?>n=1`, `?#!&|`) → predicate. */
export function compileQuery(words: string[]): (row: Row) => boolean {
  if (words.length === 0) return () => true;
  return (row) => {
    const stack: boolean[] = [];
    for (const w of words) {
      const q = w.slice(1);
      if (q.startsWith('#')) {
        for (const op of q.slice(1)) {
          if (op === '!') stack.push(!stack.pop());
          else if (op === '&' || op === '|') {
            const b = stack.pop() ?? true;
            const a = stack.pop() ?? true;
            stack.push(op === '&' ? a && b : a || b);
          } else if (op === '.') stack.push(stack[stack.length - 1] ?? true);
        }
        continue;
      }
      const body = q.startsWith('=') ? q.slice(1) : q;
      if (q.startsWith('-')) {
        stack.push(row[q.slice(1)] === undefined);
      } else if (q.startsWith('<') || q.startsWith('>')) {
        const [k, v] = splitKv(q.slice(1));
        const a = Number(row[k]);
        const b = Number(v);
        stack.push(Number.isFinite(a) && Number.isFinite(b) && (q[0] === '<' ? a < b : a > b));
      } else if (!body.includes('=')) {
        stack.push(row[body] !== undefined);
      } else {
        const [k, v] = splitKv(body);
        stack.push((row[k] ?? '') === v);
      }
    }
    return stack.every(Boolean);
  };
}

function splitKv(s: string): [string, string] {
  const i = s.indexOf('=');
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}
