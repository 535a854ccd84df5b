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
        options.tooltip.custom = ({ seriesIndex, dataPointIndex, w }) => {
            const p = w.config.series[seriesIndex].data[dataPointIndex];
            const name = (p && p.name) || '';
            return `<div class="apexcharts-tooltip-title">${escapeHtml(name)}</div>` +
                `<div style="padding:4px 8px">${escapeHtml(w.config.series[seriesIndex].name)}: ${fmt(3)(p.y)}<br>${escapeHtml(hints.xTitle || 'x')}: ${fmt(2)(p.x)}</div>`;
        };
    }
    return options;
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
    const chart = new window.ApexCharts(element, withFormatters(JSON.parse(json)));
    charts.set(element, chart);
    return chart.render();
}

export function update(element, json) {
    const chart = charts.get(element);
    if (!chart) return render(element, json);
    return chart.updateOptions(withFormatters(JSON.parse(json)), true, false);
}

export function destroy(element) {
    const chart = charts.get(element);
    if (chart) {
        chart.destroy();
        charts.delete(element);
    }
}
