// How the backlog moved day by day (GetBacklogTrend): a chart.js line chart, the same figures
// as a table (for screen readers and print), the 7- and 28-day change and, per kind, how long
// the overdue backlog will take to clear at the recent rate.
import { useEffect, useRef } from 'preact/hooks';
import { call, list, num } from '../api.js';
import { ErrorAlert, Loading, useLoad } from '../components.jsx';
import { kindOf, kindText } from '../format.js';

// chart.js is a separate chunk, loaded with the first chart (the rest of the app is small).
let chartModule = null;
function loadChart() {
  if (!chartModule) {
    chartModule = import('../linechart.js').then((m) => m.Chart);
  }
  return chartModule;
}

export function TrendSection({ team }) {
  const trend = useLoad(() => call('BacklogService', 'GetBacklogTrend', { team: team || undefined }), [team]);
  const data = trend.data;
  const points = list(data?.points);
  return (
    <section aria-labelledby="trend-heading" class="trend">
      <h2 id="trend-heading">Trend and forecast{team ? `: team ${team}` : ''}</h2>
      <ErrorAlert error={trend.error} />
      {trend.loading && <Loading what="Loading the trend" />}
      {data && points.length === 0 && (
        <p>No daily snapshots in the last 28 days yet: they are taken at local midnight.</p>
      )}
      {data && points.length > 0 && (
        <>
          <p class="summary">
            Overdue changed by <strong>{signed(num(data.change7Days))}</strong> over 7 days and{' '}
            <strong>{signed(num(data.change28Days))}</strong> over 28 days.
          </p>
          <TrendChart points={points} />
          <details class="chart-data">
            <summary>The chart’s figures as a table</summary>
            <div class="table-wrap" tabIndex={0} role="group" aria-label="Table (scrolls sideways on small screens)">
              <table class="data" id="trend-table">
                <caption>Overdue and open work at the end of each day</caption>
                <thead>
                  <tr>
                    <th scope="col">Date</th>
                    <th scope="col">Overdue</th>
                    <th scope="col">Open</th>
                  </tr>
                </thead>
                <tbody>
                  {points.map((p) => (
                    <tr key={p.date}>
                      <th scope="row">{p.date}</th>
                      <td>{num(p.totalOverdue)}</td>
                      <td>{num(p.totalOpen)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </details>
        </>
      )}
      {data && list(data.forecasts).length > 0 && <Forecasts forecasts={list(data.forecasts)} />}
    </section>
  );
}

function signed(n) {
  return n > 0 ? `+${n}` : String(n);
}

function TrendChart({ points }) {
  const canvas = useRef(null);
  useEffect(() => {
    let chart = null;
    let cancelled = false;
    loadChart().then((Chart) => {
      if (cancelled || !canvas.current) return;
      chart = new Chart(canvas.current, {
        type: 'line',
        data: {
          labels: points.map((p) => p.date),
          datasets: [
            { label: 'Overdue', data: points.map((p) => num(p.totalOverdue)), borderColor: '#a4262c', backgroundColor: '#a4262c', tension: 0.2 },
            { label: 'Open', data: points.map((p) => num(p.totalOpen)), borderColor: '#1d3557', backgroundColor: '#1d3557', borderDash: [6, 4], tension: 0.2 },
          ],
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          scales: { y: { beginAtZero: true, title: { display: true, text: 'Obligations' } } },
          plugins: { legend: { position: 'bottom' } },
        },
      });
    });
    return () => {
      cancelled = true;
      if (chart) chart.destroy();
    };
  }, [points]);
  const last = points[points.length - 1];
  return (
    <div class="chart-box">
      <canvas
        ref={canvas}
        role="img"
        aria-label={`Line chart of overdue and open work from ${points[0].date} to ${last.date}; on ${last.date}, ${num(last.totalOverdue)} overdue of ${num(last.totalOpen)} open. The figures are in the table below.`}
      />
    </div>
  );
}

function Forecasts({ forecasts }) {
  return (
    <div class="table-wrap" tabIndex={0} role="group" aria-label="Table (scrolls sideways on small screens)">
      <table class="data" id="forecast-table">
        <caption>Clearance forecast by kind, at the net rate of the last 28 days</caption>
        <thead>
          <tr>
            <th scope="col">Kind</th>
            <th scope="col">Overdue now</th>
            <th scope="col">Net cleared a day</th>
            <th scope="col">Forecast</th>
          </tr>
        </thead>
        <tbody>
          {forecasts.map((f) => {
            const rate = num(f.clearedPerDay);
            const days = num(f.daysToClear);
            return (
              <tr key={f.kind} class={f.growing ? 'growing' : ''}>
                <th scope="row">{kindText(kindOf(f.kind))}</th>
                <td>{num(f.overdueNow)}</td>
                <td>{rate.toFixed(1)}</td>
                <td>
                  {days > 0
                    ? `Clear in about ${Math.ceil(days)} days`
                    : f.growing
                      ? `Growing by ${(-rate).toFixed(1)} a day`
                      : 'Not moving'}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
