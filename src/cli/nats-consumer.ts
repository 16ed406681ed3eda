/**
 * The NATS side of the consumer commands (`archive`, `log`) as runtime
 * components (src/runtime/): the connection, which is the plan's bus (their
 * counters go out on it), and, on JetStream, the durable consumer they read.
 */
import { DurableConsumer, type DurableOptions } from '../bus/durable.js';
import { NatsBus, type NatsMode } from '../bus/nats.js';
import type { BusComponent, Component, Counters, StartContext } from '../runtime/component.js';
import { RuntimeError, describeError } from './errors.js';

/** The connection to NATS; JetStream or core per `mode` (auto: what the server has). */
export class NatsConnectionComponent implements BusComponent {
  readonly name = 'bus.nats';
  readonly source = 'bus';
  #bus: NatsBus | undefined;
  constructor(private readonly options: { servers: string[]; name: string; mode: NatsMode; quiet?: (bus: NatsBus) => boolean }) {}
  get bus(): NatsBus {
    if (!this.#bus) throw new Error('bus.nats is not started');
    return this.#bus;
  }
  async start(context: StartContext): Promise<void> {
    try {
      this.#bus = await NatsBus.connect({ servers: this.options.servers, name: this.options.name, mode: this.options.mode });
    } catch (err) {
      throw new RuntimeError(describeError(err));
    }
    if (!this.options.quiet?.(this.#bus)) context.notice(this.#bus.notice);
  }
  counters(): Counters {
    return this.#bus?.counterValues() ?? {};
  }
  async stop(): Promise<void> {
    await this.#bus?.close();
  }
}

/**
 * A JetStream durable consumer, opened once the connection says the server has
 * JetStream (`options` returns null otherwise: the command then reads the
 * connection's core subscription, and this part does nothing).
 */
export class DurableComponent implements Component {
  readonly name = 'durable';
  readonly source = 'bus';
  #durable: DurableConsumer | undefined;
  constructor(
    private readonly connection: NatsConnectionComponent,
    private readonly options: (bus: NatsBus) => DurableOptions | null,
    /** Publish through the connection (the archive's acknowledgements need it); the log reads only. */
    private readonly publishThrough = true,
  ) {}
  /** The durable consumer, when JetStream is on. */
  get consumer(): DurableConsumer | undefined {
    return this.#durable;
  }
  async start(context: StartContext): Promise<void> {
    const bus = this.connection.bus;
    if (bus.mode !== 'jetstream') return;
    try {
      const options = this.options(bus);
      if (!options) return;
      this.#durable = await DurableConsumer.open(options, this.publishThrough ? bus : null);
    } catch (err) {
      throw err instanceof RuntimeError ? err : new RuntimeError(describeError(err));
    }
    context.notice(this.#durable.notice);
  }
  counters(): Counters {
    if (!this.#durable) return {};
    const { lastError: _lastError, ...numbers } = this.#durable.stats();
    return numbers;
  }
  async stop(): Promise<void> {
    await this.#durable?.close();
  }
}
