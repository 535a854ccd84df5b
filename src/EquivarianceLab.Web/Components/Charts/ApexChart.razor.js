// ApexCharts glue for ApexChart.razor: one chart per element; the options arrive as JSON from C#.
const charts = new WeakMap();

// JSON cannot carry functions: "eqlab" hints in the options become ApexCharts formatters here.
function withFormatters(options) {
    const hints = options.eqlab || {};
    delete options.eqlab;
    const fmt = (digits) => (v) => (v === null || v === undefined || Number.isNaN(v)) ? '—' : Number(v).toFixed(digits);
    if (hints.decimals !== undefined) {
        const f = fmt(hints.decimals);
        options.tooltip = options.tooltip || {};
        options.tooltip.y = Object.assign({ formatter: f }, options.tooltip.y || {});
        if (options.dataLabels && options.dataLabels.enabled) options.dataLabels.formatter = fmt(Math.min(hints.decimals, 2));
        for (const axis of [].concat(options.yaxis || [])) axis.labels = Object.assign({ formatter: fmt(Math.min(hints.decimals, 2)) }, axis.labels || {});
    }
    if (hints.errorBars) {
        // Whiskers for the bars' intervals, drawn whenever ApexCharts has (re)drawn the chart (first render, update, resize).
        const bars = hints.errorBars;
        options.chart = options.chart || {};
        const events = options.chart.events = options.chart.events || {};
        events.mounted = (ctx) => drawErrorBars(ctx, bars);
        events.updated = (ctx) => drawErrorBars(ctx, bars);
        const value = fmt(hints.decimals ?? 3);
        options.tooltip = options.tooltip || {};
        options.tooltip.y = Object.assign({}, options.tooltip.y, {
            formatter: (v, opts) => {
                const iv = opts && bars[opts.seriesIndex] ? bars[opts.seriesIndex][opts.dataPointIndex] : null;
                return iv ? `${value(v)} (95%: ${value(iv[0])} to ${value(iv[1])})` : value(v);
            },
        });
    }
    if (hints.xDecimals !== undefined) {
        options.xaxis = options.xaxis || {};
        options.xaxis.labels = Object.assign({ formatter: fmt(hints.xDecimals) }, options.xaxis.labels || {});
    }
    if (hints.pointNames) {
        // Scatter points carry their model name; show it in the tooltip.
        options.tooltip = options.tooltip || {};
        // (The series name is HTML already: see withSafeText.)
        options.tooltip.custom = ({ seriesIndex, dataPointIndex, w }) => {
            const p = w.config.series[seriesIndex].data[dataPointIndex];
            const name = (p && p.name) || '';
            return `<div class="apexcharts-tooltip-title">${escapeHtml(name)}</div>` +
                `<div style="padding:4px 8px">${w.config.series[seriesIndex].name}: ${fmt(3)(p.y)}<br>${escapeHtml(hints.xTitle || 'x')}: ${fmt(2)(p.x)}</div>`;
        };
    }
    return options;
}

// Names in the options come from users (models, probe sets, ONNX tensor names). ApexCharts writes some text as HTML
// (legend, tooltip: innerHTML) and some as SVG text (axis labels, titles, data labels: shown literally). So series
// names, which only reach HTML, are escaped once here; categories stay as they are for the SVG axis and are escaped
// where the tooltip shows them (its title and the x-axis tooltip both take tooltip.x.formatter's result). The
// formatter gets what the axis label formatter gets (a line chart's categories arrive as their 1-based position), so
// it asks that formatter for the label first, as ApexCharts does without one.
function withSafeText(options) {
    for (const s of [].concat(options.series || [])) {
        if (s && s.name !== undefined && s.name !== null) s.name = escapeHtml(s.name);
    }
    const shown = (v, opts) => {
        const label = opts && opts.w ? opts.w.globals.xLabelFormatter(v, opts) : v;
        return escapeHtml(Array.isArray(label) ? label.join(' ') : (label ?? ''));
    };
    options.tooltip = options.tooltip || {};
    options.tooltip.x = Object.assign({}, options.tooltip.x, { formatter: shown });
    return options;
}

// ApexCharts' own CSV export writes names unquoted and as they are (a name starting with "=" would be a formula in a
// spreadsheet). The app's CSV is the run page's download (CsvWriter); the chart menu keeps PNG and SVG.
function withoutCsvExport(element) {
    for (const item of element.querySelectorAll('.apexcharts-menu-item.exportCSV')) item.remove();
}

// ApexCharts cannot mix bars with range series, so a bar chart's 95% intervals (bars[series][point] = [low, high] or
// null) are drawn here: one vertical whisker with caps per bar, in the plot area's coordinates (the bar's position
// attributes give x, the y axis's range gives y). Redrawn after every render and update, since ApexCharts rebuilds its SVG.
function drawErrorBars(ctx, bars) {
    const w = ctx.w;
    const root = ctx.el;
    const plot = root.querySelector('.apexcharts-inner.apexcharts-graphical');
    if (!plot) return;
    for (const old of root.querySelectorAll('.eqlab-error-bars')) old.remove();
    const ns = 'http://www.w3.org/2000/svg';
    const group = document.createElementNS(ns, 'g');
    group.setAttribute('class', 'eqlab-error-bars');
    const minY = w.globals.minY, maxY = w.globals.maxY, height = w.globals.gridHeight;
    const y = (v) => (maxY - Math.min(maxY, Math.max(minY, v))) / (maxY - minY) * height;
    const line = (x1, y1, x2, y2) => {
        const l = document.createElementNS(ns, 'line');
        l.setAttribute('x1', x1); l.setAttribute('y1', y1); l.setAttribute('x2', x2); l.setAttribute('y2', y2);
        l.setAttribute('stroke', '#222'); l.setAttribute('stroke-width', '1.5');
        return l;
    };
    // A bar of height 0 has an empty box, so x comes from the bar's cx attribute, which is its centre shifted by the
    // same amount for every bar of the chart; that shift is read off any bar with a box.
    const allBars = [...root.querySelectorAll('.apexcharts-bar-series path.apexcharts-bar-area')];
    const measured = allBars.map(b => ({ b, box: b.getBBox() })).find(m => m.box.width > 0);
    const offset = measured
        ? Number(measured.b.getAttribute('cx')) - (measured.box.x + measured.box.width / 2)
        : w.globals.translateX + Number((allBars[0] || { getAttribute: () => 0 }).getAttribute('barWidth')) / 2;
    const whisker = (x, interval, cap) => {
        const top = y(interval[1]), bottom = y(interval[0]);
        const g = document.createElementNS(ns, 'g');
        g.setAttribute('class', 'eqlab-error-bar');
        g.append(line(x, top, x, bottom), line(x - cap, top, x + cap, top), line(x - cap, bottom, x + cap, bottom));
        group.appendChild(g);
    };
    for (const series of root.querySelectorAll('.apexcharts-bar-series .apexcharts-series')) {
        const i = Number(series.getAttribute('data:realIndex'));
        for (const bar of series.querySelectorAll('path.apexcharts-bar-area')) {
            const interval = (bars[i] || [])[Number(bar.getAttribute('j'))];
            if (!interval) continue;
            const width = Number(bar.getAttribute('barWidth'));
            whisker(Number(bar.getAttribute('cx')) - offset, interval, Math.max(2, Math.min(6, width / 4)));
        }
    }
    // Line charts: a whisker through each point's marker (its cx is the point's x in the plot area).
    for (const series of root.querySelectorAll('.apexcharts-line-series .apexcharts-series')) {
        const i = Number(series.getAttribute('data:realIndex'));
        for (const marker of series.querySelectorAll('.apexcharts-series-markers-wrap .apexcharts-marker')) {
            const interval = (bars[i] || [])[Number(marker.getAttribute('j'))];
            if (interval) whisker(Number(marker.getAttribute('cx')), interval, 4);
        }
    }
    plot.appendChild(group);
}

function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

export function render(element, json) {
    destroy(element);
    if (!window.ApexCharts) {
        element.textContent = 'Charts unavailable: lib/apexcharts/apexcharts.min.js did not load.';
        return;
    }
    const chart = new window.ApexCharts(element, withSafeText(withFormatters(JSON.parse(json))));
    charts.set(element, chart);
    return chart.render().then(() => withoutCsvExport(element));
}

export function update(element, json) {
    const chart = charts.get(element);
    if (!chart) return render(element, json);
    return chart.updateOptions(withSafeText(withFormatters(JSON.parse(json))), true, false).then(() => withoutCsvExport(element));
}

export function destroy(element) {
    const chart = charts.get(element);
    if (chart) {
        chart.destroy();
        charts.delete(element);
    }
}
