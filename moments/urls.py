from django.urls import path

app_name = "moments"

urlpatterns: list = []
