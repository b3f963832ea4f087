"""Training and evaluation shared by the gradient-trained families (GM, PET)."""
