/**
 * The status bar item: how many SGLang servers run and their total generation throughput.
 * Clicking it opens the servers sidebar.
 */

import { Widget } from '@lumino/widgets';
import { formatStatusText } from './format';
import { ServersModel } from './model';

export class ServersStatus extends Widget {
  constructor(
    private _model: ServersModel,
    onClick: () => void
  ) {
    super();
    this.addClass('sgl-ServersStatus');
    this.node.title = 'SGLang servers: click to open the sidebar';
    this.node.setAttribute('role', 'button');
    this.node.addEventListener('click', onClick);
    _model.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    this._model.changed.disconnect(this._render, this);
    super.dispose();
  }

  private _render(): void {
    this.node.textContent = formatStatusText(
      this._model.runningCount,
      this._model.totalThroughput
    );
  }
}
