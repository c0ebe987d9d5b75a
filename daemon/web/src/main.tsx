// Entry point of the web remote (bundled by scripts/build-web.mjs into dist/web/assets/).
import { render } from 'preact';
import { App } from './app';
import './app.css';

render(<App />, document.getElementById('app')!);
