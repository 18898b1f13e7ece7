from django.core.management.base import BaseCommand, CommandError

from moments.memory import fitting
from surveys import services


class Command(BaseCommand):
    help = (
        "Fit the memory forecast's parameters (base stability, intensity gain, impact gain, "
        "loss aversion, refresh boost) by maximum likelihood on the evidence survey answers "
        "keep, and store them as a proposal. Changes nothing: an admin reviews and applies the "
        "proposal in Django admin (Moments › Memory fit proposals)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--min-answers",
            type=int,
            default=fitting.MIN_ANSWERS,
            help="Answers (that offered moments) needed for a fit (default %(default)s).",
        )

    def handle(self, *args, **options) -> None:
        try:
            proposal = services.fit_memory_model(min_answers=options["min_answers"])
        except fitting.FitError as error:
            raise CommandError(f"No proposal: {error}.") from None
        self.stdout.write(
            f"{proposal.n_answers} answers, {proposal.n_candidates} moments offered, "
            f"{proposal.n_picked} picked."
        )
        self.stdout.write(f"{'parameter':<22} {'current':>9} {'proposed':>9}")
        for name, value in proposal.values.items():
            self.stdout.write(f"{name:<22} {proposal.current[name]:>9.3f} {value:>9.3f}")
        self.stdout.write(f"{'pick rate':<22} {'':>9} {proposal.pick_rate:>9.3f}")
        self.stdout.write(
            f"AUC {proposal.auc_current:.3f} → {proposal.auc_proposed:.3f} "
            f"({proposal.auc_gain:+.3f}); log-likelihood {proposal.log_likelihood_current:.1f} → "
            f"{proposal.log_likelihood_proposed:.1f} ({proposal.log_likelihood_gain:+.1f})"
        )
        if proposal.at_bound:
            self.stdout.write(f"On a bound (weakly supported): {', '.join(proposal.at_bound)}")
        self.stdout.write(f"Proposal {proposal.pk} saved; nothing changes until it is applied.")
