import logging
import time

from core.management.base import OperationsCommand
from gateways import services

logger = logging.getLogger("chargepay.gateways.sweeper")


class Command(OperationsCommand):
    help = (
        "Re-enqueue the card charges whose work is due and did not start (what beat's gateways.sweep_card_charges "
        "does every minute). With --every SECONDS it repeats until stopped: `make run`, which has no beat and runs "
        "tasks eagerly, finishes pending and authorized charges this way."
    )

    def add_options(self, parser):
        parser.add_argument("--every", type=float, help="Sweep again every SECONDS (default: once).")
        parser.add_argument("--rounds", type=int, help="With --every, stop after this many sweeps (default: never).")

    def run(self, *, every=None, rounds=None, **options):
        if not every:
            return services.charges_sweep()
        totals: dict[str, int] = {}
        done = 0
        while rounds is None or done < rounds:
            if done:
                time.sleep(every)
            counts = services.charges_sweep()
            done += 1
            if any(counts.values()):
                logger.info("swept %s", counts)
            for kind, count in counts.items():
                totals[kind] = totals.get(kind, 0) + count
        return {"rounds": done, **totals}
