/**
 * ServersPanel: the "SGLang servers" left-sidebar widget, one ServerCard per registry record.
 */

import { Clipboard, Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import { renderLogTail, ServerCard } from './card';
import { ServersModel } from './model';
import { IServerInfo } from './types';
import { nestServers } from './nesting';

const LOG_LINES = 40;

export class ServersPanel extends Widget {
  constructor(private _model: ServersModel) {
    super();
    this.addClass('sgl-ServersPanel');
    const title = document.createElement('h2');
    title.className = 'sgl-ServersPanel-title';
    title.textContent = 'SGLang servers';
    this._error = document.createElement('div');
    this._error.className = 'sgl-ServersPanel-error';
    this._list = document.createElement('div');
    this._list.className = 'sgl-ServersPanel-list';
    this._empty = this._buildEmptyState();
    this.node.append(title, this._error, this._empty, this._list);
    _model.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    this._model.changed.disconnect(this._render, this);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._model.refreshSoon();
  }

  private _buildEmptyState(): HTMLElement {
    const box = document.createElement('div');
    box.className = 'sgl-ServersPanel-empty';
    const lead = document.createElement('p');
    lead.textContent = 'No SGLang servers are running. Launch one from a notebook:';
    const code = document.createElement('pre');
    code.textContent = '%load_ext sgl_notebook\n%sgl launch';
    const hint = document.createElement('p');
    hint.textContent =
      'Without a GPU, sgl-notebook starts its CPU engine. Servers launched from any kernel appear here.';
    box.append(lead, code, hint);
    return box;
  }

  private _render(): void {
    const servers = this._model.servers;
    this._error.textContent = this._model.error
      ? `Cannot reach the sgl-notebook server extension: ${this._model.error}`
      : '';
    this._empty.hidden = !this._model.loaded || servers.length > 0;

    const seen = new Set<string>();
    for (const { info, depth } of nestServers(servers)) {
      seen.add(info.id);
      let card = this._cards.get(info.id);
      if (card) {
        card.update(info);
      } else {
        card = new ServerCard(info, {
          copy: text => Clipboard.copyToSystem(text),
          stop: server => void this._confirmStop(server),
          loadLogs: (server, into) => void this._loadLogs(server, into)
        });
        this._cards.set(info.id, card);
      }
      // Keep DOM order equal to the reply's order (a router's workers right under it).
      card.node.classList.toggle('sgl-mod-worker', depth > 0);
      this._list.appendChild(card.node);
      if (card.logsOpen && this.isVisible) {
        void this._loadLogs(info, card.logElement);
      }
    }
    for (const [id, card] of this._cards) {
      if (!seen.has(id)) {
        card.node.remove();
        this._cards.delete(id);
      }
    }
  }

  private async _loadLogs(server: IServerInfo, into: HTMLPreElement): Promise<void> {
    try {
      const reply = await this._model.logTail(server.id, LOG_LINES);
      const atBottom = into.scrollTop + into.clientHeight >= into.scrollHeight - 4;
      renderLogTail(into, reply.lines, reply.hidden_polling ?? 0);
      if (atBottom) {
        into.scrollTop = into.scrollHeight;
      }
    } catch (error) {
      into.textContent = `Cannot read the log: ${(error as Error).message}`;
    }
  }

  private async _confirmStop(server: IServerInfo): Promise<void> {
    const body = document.createElement('div');
    body.className = 'sgl-StopDialog-body';
    const workers = server.worker_ids?.length ?? 0;
    body.textContent =
      `Stop "${server.name}" (${server.engine}, ${server.model}) at ${server.url}? ` +
      'Its process and all its child processes are terminated; requests in flight are cut off.' +
      (workers
        ? ` It routes to ${workers} workers: those it launched stop with it, servers it only ` +
          'fronts keep running.'
        : '');
    const result = await showDialog({
      title: 'Stop SGLang server?',
      body: new Widget({ node: body }),
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Stop server' })]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      const stopped = await this._model.stop(server.id);
      if (!stopped) {
        await showErrorMessage(
          'Server not stopped',
          `"${server.name}" did not stop. Its log tail may say why.`
        );
      }
    } catch (error) {
      await showErrorMessage('Cannot stop the server', (error as Error).message);
    }
  }

  private _cards = new Map<string, ServerCard>();
  private _list: HTMLElement;
  private _empty: HTMLElement;
  private _error: HTMLElement;
}
