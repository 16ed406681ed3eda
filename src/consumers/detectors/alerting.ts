/**
 * Alerting as `run` uses it: detectors on the bus, the alert manager, and
 * webhooks fed from the manager's change listener.
 */
import type { Bus } from '../../bus/bus.js';
import { buildDetectors } from './index.js';
import { startDetectors, type RunningDetectors } from './engine.js';
import type { AlertManager } from '../alerts/manager.js';
import { WebhookSender, type WebhookCounters, type WebhookOptions } from '../alerts/webhook.js';

export interface AlertingOptions {
  nodeId: string;
  /** The detectors config object (see detectors/index.ts). */
  config: unknown;
  webhooks: string[];
  webhookOptions?: Partial<WebhookOptions>;
  tickMs?: number;
}

export interface Alerting {
  manager: AlertManager;
  detectors: RunningDetectors;
  webhooks: WebhookSender | null;
  webhookCounters(): WebhookCounters | null;
  /** A last tick: pending updates published (before the bus closes). */
  flush(): void;
  /** After the bus has closed: wait for the detectors, then deliver what webhooks still hold (bounded by their retries). */
  stop(): Promise<void>;
}

export function startAlerting(bus: Bus, options: AlertingOptions): Alerting {
  const built = buildDetectors(options.config);
  const webhooks = options.webhooks.length ? new WebhookSender(options.webhooks, options.webhookOptions) : null;
  const detectors = startDetectors(bus, {
    detectors: built.detectors,
    alerts: built.alerts,
    origin: { nodeId: options.nodeId, source: 'detectors' },
    ...(options.tickMs !== undefined ? { tickMs: options.tickMs } : {}),
  });
  if (webhooks) detectors.manager.onAlert(webhooks.onAlert);
  return {
    manager: detectors.manager,
    detectors,
    webhooks,
    webhookCounters: () => webhooks?.totals() ?? null,
    flush: () => {
      detectors.engine.tick();
      detectors.manager.flush();
    },
    async stop() {
      await detectors.done;
      if (webhooks) await Promise.race([webhooks.flush(), new Promise((r) => setTimeout(r, 5000).unref())]);
      await webhooks?.close();
    },
  };
}
