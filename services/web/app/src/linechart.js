// The parts of chart.js the trend chart draws with, and no more: a chunk of its own, loaded with
// the first chart (esbuild leaves out the controllers, scales and plugins not named here).
import { CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Legend, Tooltip);

export { Chart };
