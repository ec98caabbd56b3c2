/**
 * sgl-notebook's JupyterLab extension: one plugin per feature.
 *
 * - `sgl-notebook:servers`   the "SGLang servers" sidebar and the shared ServersModel
 * - `sgl-notebook:status`    the status bar item (running servers, total throughput)
 * - `sgl-notebook:highlight` `%%sgl` / `%sgl` highlighting in every CodeMirror editor
 */

import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { EditorExtensionRegistry, IEditorExtensionRegistry } from '@jupyterlab/codemirror';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';
import { Token } from '@lumino/coreutils';
import { Prec } from '@codemirror/state';
import { sglHighlighter } from './highlight';
import { ServersModel } from './model';
import { ServersPanel } from './panel';
import { ServersStatus } from './statusbar';

export const PANEL_ID = 'sgl-notebook-servers';
export const OPEN_COMMAND = 'sgl-notebook:open-servers';

/** The shared servers model, for plugins that want the list without polling themselves. */
export const ISglServersModel = new Token<ServersModel>(
  'sgl-notebook:ISglServersModel',
  'The polled list of SGLang servers from the sgl-notebook server extension.'
);

const serverIcon = new LabIcon({
  name: 'sgl-notebook:server',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<rect x="3" y="3" width="18" height="7" rx="1.5"/>' +
    '<rect x="3" y="14" width="18" height="7" rx="1.5"/></g>' +
    '<g class="jp-icon-contrast0" fill="#fff">' +
    '<circle cx="7" cy="6.5" r="1.3"/><circle cx="7" cy="17.5" r="1.3"/></g></svg>'
});

const serversPlugin: JupyterFrontEndPlugin<ServersModel> = {
  id: 'sgl-notebook:servers',
  description: 'The "SGLang servers" sidebar.',
  autoStart: true,
  provides: ISglServersModel,
  optional: [ILabShell, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell | null,
    palette: ICommandPalette | null
  ): ServersModel => {
    const model = new ServersModel();
    const panel = new ServersPanel(model);
    panel.id = PANEL_ID;
    panel.title.icon = serverIcon;
    panel.title.caption = 'SGLang servers';
    app.shell.add(panel, 'left', { rank: 600 });

    app.commands.addCommand(OPEN_COMMAND, {
      label: 'Show SGLang Servers',
      execute: () => app.shell.activateById(PANEL_ID)
    });
    palette?.addItem({ command: OPEN_COMMAND, category: 'SGLang' });
    return model;
  }
};

const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: 'sgl-notebook:status',
  description: 'Running SGLang servers and their throughput in the status bar.',
  autoStart: true,
  requires: [ISglServersModel],
  optional: [IStatusBar],
  activate: (app: JupyterFrontEnd, model: ServersModel, statusBar: IStatusBar | null) => {
    if (!statusBar) {
      return; // e.g. a simple-mode shell without a status bar
    }
    const item = new ServersStatus(model, () => void app.commands.execute(OPEN_COMMAND));
    statusBar.registerStatusItem('sgl-notebook:status', {
      item,
      align: 'left',
      rank: 5,
      isActive: () => true
    });
  }
};

const highlightPlugin: JupyterFrontEndPlugin<void> = {
  id: 'sgl-notebook:highlight',
  description: 'Highlights %%sgl and %sgl magics and {{ name }} placeholders.',
  autoStart: true,
  requires: [IEditorExtensionRegistry],
  activate: (app: JupyterFrontEnd, registry: IEditorExtensionRegistry) => {
    registry.addExtension({
      name: 'sgl-notebook:highlight',
      // highest precedence: our marks wrap the Python highlighter's spans instead of being cut by them
      factory: () => EditorExtensionRegistry.createImmutableExtension(Prec.highest(sglHighlighter))
    });
  }
};

export default [serversPlugin, statusPlugin, highlightPlugin];
