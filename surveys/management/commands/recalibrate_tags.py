from django.core.management.base import BaseCommand

from surveys import services


class Command(BaseCommand):
    help = (
        "Estimate from survey answers how much each moment tag moves ratings and propose new "
        "impact weights. Changes no weight: admins review and apply proposals in Django admin."
    )

    def handle(self, *args, **options) -> None:
        proposals = services.recalibrate_tags()
        if not proposals:
            self.stdout.write("Not enough survey answers on tagged moments to propose weights.")
            return
        self.stdout.write(
            f"{'tag':<28} {'n':>5} {'effect':>7} {'t':>6} {'current':>8} {'proposed':>9}"
        )
        for p in proposals:
            self.stdout.write(
                f"{p.tag.name[:28]:<28} {p.n_with:>5} {p.effect:>+7.2f} {p.t_stat:>6.1f} "
                f"{p.current_weight:>8.2f} {p.proposed_weight:>9.2f}"
            )
        self.stdout.write(f"{len(proposals)} proposals saved; apply them in admin.")
