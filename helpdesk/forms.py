"""Identity forms: customer sign-up."""
from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import User


class SignupForm(UserCreationForm):
    email = forms.EmailField(label=gettext_lazy("E-mail"), required=True)
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=150,
                                 required=True)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=150,
                                required=False)

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email", "first_name", "last_name")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("An account with this e-mail already exists."))
        return email
