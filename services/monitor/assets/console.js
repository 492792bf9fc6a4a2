// The jst2tplus operator console: polls the monitor's /api every few seconds and renders the
// pipeline, the daily reconcile (Books), cursors, recent vouchers and dead letters. Plain
// DOM, no framework, no network access beyond this origin. Data is always inserted as text (never as HTML).
'use strict';

(() => {
  const REFRESH_MS = 3000;
  const TOKEN_KEY = 'j2t.console.token';
  const LANG_KEY = 'j2t.console.lang';

  // One table per language with the same keys (the repeat is the translation itself).
  const TEXT = {
    zh: {
      title: 'jst2tplus 控制台', autoRefresh: '自动刷新', refresh: '刷新', signOut: '退出',
      tokenPrompt: '控制台令牌', signIn: '进入', badToken: '令牌无效，请重新输入',
      pipeline: '数据流', deadLetters: '死信', showReplayed: '显示已重放',
      stageReason: '阶段.原因', contents: '内容', error: '错误', attempts: '尝试',
      lastFailure: '最后失败', actions: '操作', noDeadLetters: '没有死信',
      inspect: '查看', replay: '重放', replaying: '重放中…', replayedTo: '已重放至',
      replayDone: '死信 #{id} 已重放至 {subject}', replayFailed: '死信 #{id} 重放失败：{error}', inspectFailed: '无法查看死信 #{id}：{error}',
      cursors: '同步任务', task: '任务', syncedUntil: '已同步至', pendingWindow: '进行中的窗口',
      lag: '延迟', catchUp: '追赶进度', live: '实时', estimating: '追赶中：第一个窗口读完后给出估算',
      catchingUp: '追赶中：还需 {n} 次请求，约 {left}，已完成 {pct}%',
      catchUpDetail: '自 {from} 起已读 {windows} 个窗口、{orders} 个订单、{requests} 次请求；估算于 {at}',
      noCursors: '暂无同步任务', vouchers: '最近写入的凭证', externalCode: '外部编码',
      outcome: '结果', orders: '包含的订单 (io_id)', writtenAt: '写入时间', noVouchers: '暂无凭证',
      whereis: '查找订单', find: '查找', history: '尝试记录', close: '关闭',
      created: '已创建', already_exists: '已存在', more: '另 {n} 个',
      jst: '聚水潭', fetcher: '拉取', ordersStream: '原始订单', transformer: '转换合并',
      vouchersStream: '凭证', writer: '写入', tplus: '畅捷通 T+',
      stored: '已存储', backlog: '待处理', inFlight: '处理中', dead: '死信', rate: '每分钟',
      windowsWaiting: '待合并窗口', written: '已写入', lastWrite: '最后写入', tasks: '任务数',
      maxLag: '最大延迟', updated: '更新于 {time}', never: '—',
      quota: 'T+ 配额耗尽于 {time}', authFailures: 'T+ 连续认证失败 {n} 次', healthy: '无异常信号',
      unreachable: '无法读取：{error}', inspectTitle: '死信 #{id} · {stage}.{reason}',
      originalSubject: '原主题', firstFailure: '首次失败', noHistory: '无记录',
      books: '对账', noReconcile: '暂无对账结果', warehouse: '仓库', jstSide: '聚水潭 数量 / 金额',
      tplusSide: 'T+ 数量 / 金额', difference: '差异 数量 / 金额', explanations: '原因',
      truncated: '只保存了最严重的差异；全部差异请运行 jst2tplus reconcile',
      booksOff: '每日对账未开启（monitor.reconcile_enabled）',
      booksInfo: '每天 {at}（聚水潭时间）核对最近 {days} 天', lastRun: '最近一次：{day} {state}',
      equal: '一致', differ: '不符', failed: '未能完成', running: '进行中',
      dateTitle: '{date}：{n} 行不符（{run} 的对账）', dateEqual: '{date}：一致（{run} 的对账）',
      never_fetched: '从未拉取', in_flight: '处理中，尚未写入', dead_lettered: '死信 #{id}（{reason}）',
      missing_in_tplus: '所在凭证在 T+ 中不存在', changed_after_write: '写入后有变化',
      not_in_jst: '聚水潭中已无此发货单', voucherNamed: '凭证 {v}',
    },
    en: {
      title: 'jst2tplus console', autoRefresh: 'Auto refresh', refresh: 'Refresh', signOut: 'Sign out',
      tokenPrompt: 'Console token', signIn: 'Enter', badToken: 'Invalid token, please enter it again',
      pipeline: 'Pipeline', deadLetters: 'Dead letters', showReplayed: 'Show replayed',
      stageReason: 'Stage.reason', contents: 'Contents', error: 'Error', attempts: 'Attempts',
      lastFailure: 'Last failure', actions: 'Actions', noDeadLetters: 'No dead letters',
      inspect: 'Inspect', replay: 'Replay', replaying: 'Replaying…', replayedTo: 'Replayed to',
      replayDone: 'Dead letter #{id} replayed to {subject}', replayFailed: 'Dead letter #{id} not replayed: {error}', inspectFailed: 'Cannot inspect dead letter #{id}: {error}',
      cursors: 'Sync tasks', task: 'Task', syncedUntil: 'Synced until', pendingWindow: 'Window in progress',
      lag: 'Lag', catchUp: 'Catch-up', live: 'live', estimating: 'catching up: estimate after the first window',
      catchingUp: 'catching up: {n} requests, about {left} left, {pct} % done',
      catchUpDetail: 'since {from}: {windows} windows, {orders} orders, {requests} requests; estimated {at}',
      noCursors: 'No sync tasks yet', vouchers: 'Recent vouchers', externalCode: 'ExternalCode',
      outcome: 'Outcome', orders: 'Orders (io_id)', writtenAt: 'Written at', noVouchers: 'No vouchers yet',
      whereis: 'Find an order', find: 'Find', history: 'Attempt history', close: 'Close',
      created: 'created', already_exists: 'already existed', more: '{n} more',
      jst: 'Jushuitan', fetcher: 'fetcher', ordersStream: 'raw orders', transformer: 'transformer',
      vouchersStream: 'vouchers', writer: 'writer', tplus: 'Chanjet T+',
      stored: 'stored', backlog: 'backlog', inFlight: 'in flight', dead: 'dead letters', rate: 'per min',
      windowsWaiting: 'windows waiting', written: 'written', lastWrite: 'last write', tasks: 'tasks',
      maxLag: 'max lag', updated: 'updated {time}', never: '—',
      quota: 'T+ quota exhausted at {time}', authFailures: '{n} T+ auth failures in a row', healthy: 'no warning signals',
      unreachable: 'cannot read: {error}', inspectTitle: 'Dead letter #{id} · {stage}.{reason}',
      originalSubject: 'Original subject', firstFailure: 'First failure', noHistory: 'none recorded',
      books: 'Books', noReconcile: 'No reconcile results yet', warehouse: 'Warehouse', jstSide: 'JST qty / amount',
      tplusSide: 'T+ qty / amount', difference: 'Difference qty / amount', explanations: 'Why',
      truncated: 'Only the worst differences are kept; run jst2tplus reconcile for all of them',
      booksOff: 'Daily reconcile off (monitor.reconcile_enabled)',
      booksInfo: 'Daily at {at} (JST time) over the last {days} days', lastRun: 'Latest: {day} {state}',
      equal: 'equal', differ: 'differ', failed: 'could not run', running: 'running',
      dateTitle: '{date}: {n} rows differ (run of {run})', dateEqual: '{date}: equal (run of {run})',
      never_fetched: 'never fetched', in_flight: 'in flight, not written yet', dead_lettered: 'dead letter #{id} ({reason})',
      missing_in_tplus: 'its voucher is not in T+', changed_after_write: 'changed after it was written',
      not_in_jst: 'no longer shipped in JST', voucherNamed: 'voucher {v}',
    },
  };

  const $ = (id) => document.getElementById(id);
  let lang = localStorage.getItem(LANG_KEY) || (navigator.language.startsWith('zh') ? 'zh' : 'en');
  let token = null;
  let timer = null;
  let data = null; // last {status, vouchers, letters}
  let samples = []; // [{at (ms), orders, written}] over the last minute, for throughput
  let message = null; // last dead-letter action message: {key, args, failed}
  let selectedDate = null; // the Books panel's date whose differences are shown
  const replaying = new Set(); // dead-letter ids with a replay under way

  function t(key, args = {}) {
    const text = (TEXT[lang] && TEXT[lang][key]) || key;
    return text.replace(/\{(\w+)\}/g, (_, name) => String(args[name] ?? ''));
  }

  // el('td', {class: 'x', 'data-id': 3}, 'text', child) — children are text or nodes.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value !== undefined && value !== null && value !== false) node.setAttribute(name, String(value));
    }
    for (const child of children) {
      if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const time = (iso) => (iso ? new Date(iso).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB') : t('never'));

  function duration(secs) {
    const units = lang === 'zh' ? ['天', '小时', '分', '秒'] : ['d', 'h', 'm', 's'];
    const parts = [Math.floor(secs / 86400), Math.floor(secs / 3600) % 24, Math.floor(secs / 60) % 60, secs % 60];
    const shown = parts.map((n, i) => [n, units[i]]).filter(([n]) => n > 0).slice(0, 2);
    return shown.length ? shown.map(([n, u]) => `${n}${u}`).join(' ') : `0${units[3]}`;
  }

  // ---- token: from ?token= once (then removed from the address bar), else sessionStorage.
  function takeToken() {
    const params = new URLSearchParams(location.search);
    const fromUrl = params.get('token');
    if (fromUrl) {
      sessionStorage.setItem(TOKEN_KEY, fromUrl);
      params.delete('token');
      const rest = params.toString();
      history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }

  class Unauthorized extends Error {}

  async function api(path, options = {}) {
    const response = await fetch(`api/${path}`, {
      ...options,
      cache: 'no-store',
      headers: { Authorization: `Bearer ${token}` },
    });
    if (response.status === 401) throw new Unauthorized();
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
    return body;
  }

  function signIn(value) {
    token = value;
    $('login').hidden = true;
    $('console').hidden = false;
    $('sign-out').hidden = false;
    refresh();
  }

  function signOut(message) {
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    clearTimeout(timer);
    $('console').hidden = true;
    $('sign-out').hidden = true;
    $('login').hidden = false;
    $('login-error').hidden = !message;
    $('login-error').textContent = message || '';
    $('token-input').focus();
  }

  // ---- polling: one refresh at a time; the next is scheduled when this one ends.
  async function refresh() {
    clearTimeout(timer);
    if (!token) return;
    try {
      const all = $('dlq-all').checked ? '?all=true' : '';
      const [status, vouchers, letters, books] = await Promise.all([
        api('status'), api('vouchers?limit=50'), api(`dead-letters${all}`), api('reconcile'),
      ]);
      data = { status, vouchers, letters, books };
      sample(status);
      render();
      $('error-banner').hidden = true;
    } catch (error) {
      if (error instanceof Unauthorized) return signOut(t('badToken'));
      $('error-banner').hidden = false;
      $('error-banner').textContent = t('unreachable', { error: error.message });
    }
    if ($('auto-refresh').checked) timer = setTimeout(refresh, REFRESH_MS);
  }

  function render() {
    if (!data) return;
    $('updated').textContent = t('updated', { time: time(data.status.at) });
    renderFlow(data.status);
    renderSignals(data.status.signals);
    renderBooks(data.books);
    renderDeadLetters(data.letters);
    renderCursors(data.status.cursors);
    renderVouchers(data.vouchers);
  }

  // ---- the pipeline as a flow of boxes: services and the streams between them.
  function deadAt(status, stage) {
    return Object.entries(status.dead_letters)
      .filter(([key]) => key.startsWith(`${stage}.`))
      .reduce((sum, [, n]) => sum + n, 0);
  }

  // Throughput: messages per minute into a stream over the last minute of refreshes (one
  // refresh apart would be too jumpy). Shown once the samples span 10 s.
  const RATE_WINDOW_MS = 60000;
  function sample(status) {
    const at = new Date(status.at).getTime();
    samples.push({ at, orders: status.orders.stored, written: status.written.stored });
    samples = samples.filter((s) => at - s.at <= RATE_WINDOW_MS);
  }

  function rate(name) {
    const first = samples[0];
    const last = samples[samples.length - 1];
    if (!first || last.at - first.at < 10000) return null;
    const added = last[name] - first[name];
    // Streams only grow, except when old messages expire: then there is no honest figure.
    return added >= 0 ? Math.round((added * 60000) / (last.at - first.at)) : null;
  }

  function metric(label, value, extra = {}) {
    return el('div', { class: 'metric', ...extra }, el('span', { class: 'label' }, t(label)), el('span', { class: 'value' }, value));
  }

  function deadMetric(count) {
    return metric('dead', count, { 'data-metric': 'dead', class: count > 0 ? 'metric alarm' : 'metric' });
  }

  function node(kind, stage, title, ...metrics) {
    return el('div', { class: `node ${kind}`, 'data-stage': stage }, el('h3', {}, title), ...metrics);
  }

  function renderFlow(s) {
    const maxLag = s.cursors.reduce((max, c) => Math.max(max, c.lag_secs), 0);
    const withRate = (name) => {
      const r = rate(name);
      return r === null ? [] : [metric('rate', r, { 'data-metric': 'rate' })];
    };
    const boxes = [
      node('external', 'jst', t('jst')),
      node('service', 'fetcher', t('fetcher'),
        metric('tasks', s.cursors.length), metric('maxLag', duration(maxLag)), deadMetric(deadAt(s, 'fetcher'))),
      node('stream', 'orders', t('ordersStream'),
        metric('stored', s.orders.stored, { 'data-metric': 'stored' }), ...withRate('orders')),
      node('service', 'transformer', t('transformer'),
        metric('windowsWaiting', s.windows.backlog, { 'data-metric': 'backlog' }),
        metric('inFlight', s.windows.in_flight, { 'data-metric': 'in-flight' }), deadMetric(deadAt(s, 'transformer'))),
      node('stream', 'vouchers', t('vouchersStream'),
        metric('stored', s.vouchers.stored, { 'data-metric': 'stored' }),
        metric('backlog', s.vouchers.backlog, { 'data-metric': 'backlog' }),
        metric('inFlight', s.vouchers.in_flight, { 'data-metric': 'in-flight' })),
      node('service', 'writer', t('writer'), deadMetric(deadAt(s, 'writer'))),
      node('external', 'tplus', t('tplus'),
        metric('written', s.written.stored, { 'data-metric': 'stored' }), ...withRate('written'),
        metric('lastWrite', time(s.written.last_at))),
    ];
    const flow = $('flow');
    flow.replaceChildren();
    boxes.forEach((box, i) => {
      if (i > 0) flow.append(el('span', { class: 'arrow', 'aria-hidden': 'true' }, '→'));
      flow.append(box);
    });
  }

  function renderSignals(signals) {
    const warnings = [];
    if (signals.quota_exhausted_at) warnings.push(t('quota', { time: time(signals.quota_exhausted_at) }));
    if (signals.auth_failures > 0) warnings.push(t('authFailures', { n: signals.auth_failures }));
    $('signals').textContent = warnings.length ? warnings.join(' · ') : t('healthy');
    $('signals').className = warnings.length ? 'error' : 'muted';
  }

  // ---- the Books panel: the daily reconcile's last result per voucher date.
  const num = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(2));

  function whereabouts(e) {
    const w = e.whereabouts || {};
    const place = TEXT[lang][w.kind] ? t(w.kind, w) : e.detail;
    const who = e.io_id != null ? `io_id ${e.io_id}` : '';
    const voucher = e.voucher ? ` (${t('voucherNamed', { v: e.voucher })})` : '';
    return `${who}${who ? ': ' : ''}${place}${voucher}`;
  }

  function renderBooks(books) {
    const latest = books.runs[0];
    $('books-info').textContent = [
      books.enabled ? t('booksInfo', { at: books.at, days: books.days }) : t('booksOff'),
      latest ? t('lastRun', { day: latest.day, state: t(latest.state) }) + (latest.error ? ` — ${latest.error}` : '') : null,
    ].filter(Boolean).join(' · ');
    const red = books.dates.filter((d) => d.state === 'differ').length;
    $('books-badge').textContent = books.dates.length ? `${red}/${books.dates.length}` : '';
    $('books-badge').className = red > 0 ? 'badge alarm' : 'badge';
    $('books-empty').hidden = books.dates.length > 0;
    // Oldest date on the left, like a calendar.
    const dates = [...books.dates].reverse();
    $('books-dates').replaceChildren(...dates.map((d) => el('button', {
      type: 'button', role: 'listitem', class: `date ${d.state}${d.date === selectedDate ? ' selected' : ''}`,
      'data-date': d.date, 'data-state': d.state, title: t(d.state),
    }, d.date.slice(5))));
    const shown = books.dates.find((d) => d.date === selectedDate);
    $('books-detail').hidden = !shown;
    if (!shown) return;
    $('books-detail').dataset.date = shown.date;
    $('books-detail-title').textContent = shown.state === 'differ'
      ? t('dateTitle', { date: shown.date, n: shown.differences.length, run: shown.run_day })
      : t('dateEqual', { date: shown.date, run: shown.run_day });
    $('books-truncated').hidden = !shown.truncated;
    $('books-differences').querySelector('tbody').replaceChildren(...shown.differences.map((d) => el('tr', {
      'data-sku': d.sku, 'data-warehouse': d.warehouse,
    },
    el('td', { class: 'code' }, d.warehouse), el('td', { class: 'code' }, d.sku),
    el('td', { class: 'num' }, `${num(d.jst_qty)} / ${num(d.jst_amount)}`),
    el('td', { class: 'num' }, `${num(d.tplus_qty)} / ${num(d.tplus_amount)}`),
    el('td', { class: 'num error' }, `${num(d.tplus_qty - d.jst_qty)} / ${num(d.tplus_amount - d.jst_amount)}`),
    el('td', { class: 'explanations' }, ...d.explanations.map((e) => el('div', { 'data-io-id': e.io_id }, whereabouts(e)))))));
  }

  function ioIds(ids) {
    const shown = ids.slice(0, 8).join(', ');
    return ids.length > 8 ? `${shown} ${t('more', { n: ids.length - 8 })}` : shown;
  }

  function renderDeadLetters(letters) {
    const pending = letters.filter((l) => !l.replayed).length;
    $('dlq-count').textContent = pending;
    $('dlq-count').className = pending > 0 ? 'badge alarm' : 'badge';
    $('dlq-empty').hidden = letters.length > 0;
    $('dead-letters').querySelector('tbody').replaceChildren(...letters.map((l) => {
      const actions = el('td', { class: 'actions' },
        el('button', { type: 'button', 'data-action': 'inspect' }, t('inspect')));
      if (l.replayed) {
        actions.append(el('span', { class: 'muted', 'data-replayed': l.replayed.subject }, `${t('replayedTo')} ${l.replayed.subject}`));
      } else {
        const busy = replaying.has(l.id);
        actions.append(el('button', { type: 'button', class: 'replay', 'data-action': 'replay', disabled: busy },
          busy ? t('replaying') : t('replay')));
      }
      const contents = [l.external_code, l.io_ids.length ? `io_id: ${ioIds(l.io_ids)}` : null].filter(Boolean).join(' · ');
      return el('tr', { 'data-dlq-id': l.id, 'data-stage': l.stage, 'data-reason': l.reason, 'data-code': l.external_code },
        el('td', {}, l.id),
        el('td', {}, `${l.stage}.${l.reason}`),
        el('td', { class: 'code' }, contents),
        el('td', { class: 'clip', title: l.error }, l.error),
        el('td', {}, l.attempts),
        el('td', {}, time(l.last_failure)),
        actions);
    }));
  }

  function renderCursors(cursors) {
    $('cursors-empty').hidden = cursors.length > 0;
    $('cursors').querySelector('tbody').replaceChildren(...cursors.map((c) => el('tr', { 'data-task': c.task },
      el('td', {}, c.task), el('td', {}, c.next_start), el('td', { class: 'code' }, c.pending || '—'),
      el('td', { 'data-lag-secs': c.lag_secs }, duration(c.lag_secs)),
      catchUp(c.backfill))));
  }

  // The fetcher's catch-up estimate from the cursor record: live, estimating, or how much is left.
  function catchUp(b) {
    if (!b) return el('td', { 'data-backfill': 'none' }, '—');
    const detail = t('catchUpDetail', { from: b.from, windows: b.windows, orders: b.orders, requests: b.requests, at: time(b.updated_at) });
    if (b.live) return el('td', { 'data-backfill': 'live', title: detail }, t('live'));
    if (b.remaining_requests === null || b.remaining_requests === undefined) {
      return el('td', { 'data-backfill': 'estimating', title: detail }, t('estimating'));
    }
    const pct = Math.floor(b.percent_done ?? 0);
    return el('td', { 'data-backfill': 'catching-up', 'data-remaining-requests': b.remaining_requests, 'data-percent': pct, title: detail },
      t('catchingUp', { n: b.remaining_requests, left: duration(b.remaining_secs), pct }),
      el('progress', { max: 100, value: pct }));
  }

  function renderVouchers(vouchers) {
    $('vouchers-empty').hidden = vouchers.length > 0;
    $('vouchers').querySelector('tbody').replaceChildren(...vouchers.map((v) => el('tr', { 'data-code': v.external_code, 'data-outcome': v.outcome },
      el('td', { class: 'code' }, v.external_code),
      el('td', {}, el('span', { class: `outcome ${v.outcome}` }, t(v.outcome))),
      el('td', { class: 'code', title: v.io_ids.join(', '), 'data-io-ids': v.io_ids.join(' ') }, ioIds(v.io_ids)),
      el('td', {}, v.attempts),
      el('td', {}, time(v.written_at)))));
  }

  // ---- dead-letter actions
  async function inspect(id) {
    try {
      const entry = await api(`dead-letters/${id}`);
      const letter = entry.letter;
      $('inspect').dataset.dlqId = id;
      $('inspect-title').textContent = t('inspectTitle', { id, stage: letter.stage, reason: letter.reason });
      const rows = [
        ['error', letter.error], ['originalSubject', letter.original_subject], ['attempts', letter.attempts],
        ['firstFailure', time(letter.first_failure)], ['lastFailure', time(letter.last_failure)],
      ];
      $('inspect-summary').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, t(k)), el('dd', {}, v)]));
      const history = letter.history || [];
      $('inspect-history').replaceChildren(...(history.length
        ? history.map((a) => el('li', {}, `${time(a.at)} (#${a.delivery}) ${a.error}`))
        : [el('li', { class: 'muted' }, t('noHistory'))]));
      $('inspect-json').textContent = JSON.stringify(entry, null, 2);
      if (!$('inspect').open) $('inspect').showModal();
    } catch (error) {
      if (error instanceof Unauthorized) return signOut(t('badToken'));
      say('inspectFailed', { id, error: error.message }, true);
    }
  }

  async function replay(id) {
    replaying.add(id);
    render();
    try {
      const answer = await api(`dead-letters/${id}/replay`, { method: 'POST' });
      say('replayDone', { id, subject: answer.subject }, false);
    } catch (error) {
      if (error instanceof Unauthorized) return signOut(t('badToken'));
      say('replayFailed', { id, error: error.message }, true);
    } finally {
      replaying.delete(id);
    }
    refresh();
  }

  function say(key, args, failed) {
    message = { key, args, failed };
    showMessage();
  }

  function showMessage() {
    if (!message) return;
    const box = $('dlq-message');
    box.textContent = t(message.key, message.args);
    box.className = message.failed ? 'error' : 'ok';
    box.dataset.state = message.failed ? 'failed' : 'ok';
  }

  async function whereis(ioId) {
    const out = $('whereis-result');
    out.hidden = false;
    try {
      out.textContent = JSON.stringify(await api(`whereis/${encodeURIComponent(ioId)}`), null, 2);
    } catch (error) {
      if (error instanceof Unauthorized) return signOut(t('badToken'));
      out.textContent = error.message;
    }
  }

  function applyLanguage() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = `${t('title')} · jst2tplus`;
    for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
    $('lang-toggle').textContent = lang === 'zh' ? 'English' : '中文';
    showMessage();
    render();
  }

  // ---- wiring
  document.addEventListener('DOMContentLoaded', () => {
    $('lang-toggle').addEventListener('click', () => {
      lang = lang === 'zh' ? 'en' : 'zh';
      localStorage.setItem(LANG_KEY, lang);
      applyLanguage();
    });
    $('refresh').addEventListener('click', refresh);
    $('auto-refresh').addEventListener('change', refresh);
    $('dlq-all').addEventListener('change', refresh);
    $('sign-out').addEventListener('click', () => signOut(''));
    $('login-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const value = $('token-input').value.trim();
      $('token-input').value = '';
      sessionStorage.setItem(TOKEN_KEY, value);
      signIn(value);
    });
    $('whereis-form').addEventListener('submit', (event) => {
      event.preventDefault();
      whereis($('whereis-input').value.trim());
    });
    $('books-dates').addEventListener('click', (event) => {
      const cell = event.target.closest('button[data-date]');
      if (!cell) return;
      selectedDate = selectedDate === cell.dataset.date ? null : cell.dataset.date;
      render();
    });
    $('dead-letters').addEventListener('click', (event) => {
      const button = event.target.closest('button[data-action]');
      const row = button && button.closest('tr[data-dlq-id]');
      if (!row || button.disabled) return;
      const id = Number(row.dataset.dlqId);
      if (button.dataset.action === 'inspect') inspect(id);
      if (button.dataset.action === 'replay') replay(id);
    });
    applyLanguage();
    const saved = takeToken();
    if (saved) signIn(saved);
    else signOut('');
  });
})();
