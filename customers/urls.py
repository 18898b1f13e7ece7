from django.urls import path

from customers import views
from customers.channels import webhooks

urlpatterns = [
    path("channels/inbound/<str:provider>/", webhooks.inbound_webhook, name="channels-inbound"),
    path("imports/", views.import_list, name="import-list"),
    path("imports/<int:pk>/", views.import_detail, name="import-detail"),
    path("exports/<str:kind>.csv", views.export_download, name="export-csv"),
    path("", views.home, name="home"),
    path("customers/", views.customer_list, name="customer-list"),
    path("customers/new/", views.customer_create, name="customer-create"),
    path("customers/<int:pk>/", views.customer_detail, name="customer-detail"),
    path("customers/<int:pk>/edit/", views.customer_edit, name="customer-edit"),
    path("customers/<int:pk>/interactions/", views.interaction_create, name="interaction-create"),
]
