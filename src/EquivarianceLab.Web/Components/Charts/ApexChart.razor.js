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
    if (hints.errorBars) {
        const draw = (chart) => drawErrorBars(chart, hints.errorBars);
        options.chart = options.chart || {};
        options.chart.events = Object.assign({}, options.chart.events, { mounted: draw, updated: draw });
    }
    return options;
}

// ApexCharts cannot mix bars with range series, so a bar chart's 95% intervals (errorBars[series][point] = [low, high]
// or null) are drawn here over the rendered bars: a whisker from low to high at each bar's centre, capped a third of
// the bar wide. Redrawn after every render and update (ApexCharts rebuilds its SVG then).
function drawErrorBars(chart, errorBars) {
    const root = chart.el.querySelector('.apexcharts-graphical');
    if (!root) return;
    root.querySelectorAll('.eqlab-error-bars').forEach(g => g.remove());
    const g = chart.w.globals;
    if (!(g.maxY > g.minY)) return;
    const y = v => g.gridHeight - (v - g.minY) / (g.maxY - g.minY) * g.gridHeight;
    const ns = 'http://www.w3.org/2000/svg';
    const group = document.createElementNS(ns, 'g');
    group.setAttribute('class', 'eqlab-error-bars');
    const line = (x1, y1, x2, y2, parent) => {
        const l = document.createElementNS(ns, 'line');
        for (const [k, v] of Object.entries({ x1, y1, x2, y2, stroke: '#333', 'stroke-width': 1.5 })) l.setAttribute(k, v);
        parent.appendChild(l);
    };
    for (const seriesEl of chart.el.querySelectorAll('.apexcharts-bar-series .apexcharts-series')) {
        const intervals = errorBars[Number(seriesEl.getAttribute('data:realIndex'))];
        if (!intervals) continue;
        for (const bar of seriesEl.querySelectorAll('path.apexcharts-bar-area')) {
            const interval = intervals[Number(bar.getAttribute('j'))];
            if (!interval) continue;
            const box = bar.getBBox();
            const cx = box.x + box.width / 2, cap = box.width / 6;
            const whisker = document.createElementNS(ns, 'g');
            whisker.setAttribute('class', 'eqlab-error-bar');
            line(cx, y(interval[0]), cx, y(interval[1]), whisker);
            line(cx - cap, y(interval[0]), cx + cap, y(interval[0]), whisker);
            line(cx - cap, y(interval[1]), cx + cap, y(interval[1]), whisker);
            group.appendChild(whisker);
        }
    }
    root.appendChild(group);
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
